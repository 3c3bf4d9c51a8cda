import type { Params } from '../params.js';
import type { ConnectionDrainConfig, SlowStartConfig, StickySessionConfig, UchConfig } from '../types.js';
import { missingParam } from '../errors.js';
import {
  COOKIE_NAME_MAX_CHARS, COOKIE_TIMEOUT_MAX_S, COOKIE_TIMEOUT_MIN_S, DEFAULT_COOKIE_TIMEOUT_S,
  DRAIN_TIMEOUT_MAX_S, DRAIN_TIMEOUT_MIN_S, SLOW_START_DURATION_MAX_S, SLOW_START_DURATION_MIN_S,
  UCH_VALUE_MAX_CHARS,
} from '../defaults.js';

/**
 * SP-3: a backend cookie name is 1–200 printable ASCII characters without `,` `;` or
 * space, and does not start with `$` (RFC 6265 reserves those for attributes).
 */
export const COOKIE_NAME_PATTERN = /^(?!\$)[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/;

/**
 * SP-1..SP-3 over `base`: fields not given keep their value. Disabled configs keep no type.
 * Only the fields of the chosen type are stored (CookieTimeout for Insert, Cookie for
 * Server); the other one is still validated when given, then dropped.
 */
export function readStickySession(p: Params, base: StickySessionConfig): StickySessionConfig {
  const enabled = p.bool('StickySessionEnabled') ?? base.StickySessionEnabled;
  const type = p.enum('StickySessionType', ['Insert', 'Server'] as const) ?? base.StickySessionType;
  const timeout = p.int('CookieTimeout', { min: COOKIE_TIMEOUT_MIN_S, max: COOKIE_TIMEOUT_MAX_S }) ?? base.CookieTimeout;
  const cookie = p.str('Cookie', {
    min: 1, max: COOKIE_NAME_MAX_CHARS, pattern: COOKIE_NAME_PATTERN,
    patternWhy: `must be 1 to ${COOKIE_NAME_MAX_CHARS} printable ASCII characters without ",", ";" or space, not starting with "$"`,
  }) ?? base.Cookie;
  if (!enabled) return { StickySessionEnabled: false };
  if (type === undefined) throw missingParam(p.name('StickySessionType'));
  if (type === 'Insert') {
    return { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: timeout ?? DEFAULT_COOKIE_TIMEOUT_S };
  }
  if (cookie === undefined) throw missingParam(p.name('Cookie'));
  return { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: cookie };
}

/** SS-1 over `base`. */
export function readSlowStart(p: Params, base: SlowStartConfig): SlowStartConfig {
  return {
    SlowStartEnabled: p.bool('SlowStartEnabled') ?? base.SlowStartEnabled,
    SlowStartDuration: p.int('SlowStartDuration', { min: SLOW_START_DURATION_MIN_S, max: SLOW_START_DURATION_MAX_S }) ?? base.SlowStartDuration,
  };
}

/** CD-1 over `base`. */
export function readConnectionDrain(p: Params, base: ConnectionDrainConfig): ConnectionDrainConfig {
  return {
    ConnectionDrainEnabled: p.bool('ConnectionDrainEnabled') ?? base.ConnectionDrainEnabled,
    ConnectionDrainTimeout: p.int('ConnectionDrainTimeout', { min: DRAIN_TIMEOUT_MIN_S, max: DRAIN_TIMEOUT_MAX_S }) ?? base.ConnectionDrainTimeout,
  };
}

/**
 * SG-7: the name of the URL query parameter `Sch` hashes: 1–100 characters that can appear
 * in a query key unescaped (no `&`, `=`, `#`, `%`, space or control characters).
 */
export const QUERY_PARAM_NAME_PATTERN = /^[A-Za-z0-9\-._~!$'()*+,;:@/?[\]]+$/;

export function readUchConfig(p: Params): UchConfig {
  const type = p.enum('Type', ['QueryString'] as const, { required: true });
  const value = p.str('Value', {
    required: true, min: 1, max: UCH_VALUE_MAX_CHARS, pattern: QUERY_PARAM_NAME_PATTERN,
    patternWhy: `must be a URL query parameter name of 1 to ${UCH_VALUE_MAX_CHARS} characters without "&", "=", "#", "%" or spaces`,
  });
  return { Type: type, Value: value };
}
