// The policy stage: client address, IP sets, per-route authorization and route_by.
export { parseIpInto, parseV4At, parseV6At, ip16FromBytes, isV4Mapped, formatIp16 } from './ip.js';
export { IpSet, compileIpSet, parseCidr, type Cidr } from './ip-set.js';
export { compileClientIp, type ClientIpResolver } from './client-ip.js';
export { compileRoutePolicy, claimAt, type CompiledRoutePolicy } from './rules.js';
