/** core/media: the media fetcher, its HTTP client, the address policy and the failure classes. */
export { DEFAULT_MEDIA, mediaFetcher, mediaHttp, type MediaConfig } from "./fetcher.ts";
export { DEFAULT_LIMITS, MediaHttp, filenameOf, type GetOptions, type MediaLimits } from "./http.ts";
export { AddressPolicy, parseAllowEntry, refusedRange } from "./policy.ts";
export { isMediaFailure, mediaFailure, statusFailure, type MediaFailure, type MediaFailureKind } from "./errors.ts";
