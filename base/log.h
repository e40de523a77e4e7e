/*
 * Logging: one line per event on standard error, as key=value pairs after
 * a UTC timestamp and the level:
 *
 *     2026-11-30T20:31:07Z level=info event=send status=sent rcpts=2
 *
 * Callers write the key=value part. Values that come from outside (a
 * server's reply, an address) are written with log_quote() so that a
 * line stays one line. Never log a secret, a token, a password or a
 * message body.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the lowest level written; LOG_INFO until called. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn" or "error"; false for anything else. */
bool log_level_parse(const char *name, enum log_level *out);

/* True when a line at `level` would be written. */
bool log_enabled(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes `s` into `out` (of `size` bytes) as a double-quoted value with
 * quotes, backslashes and control bytes escaped, cut with "..." when it
 * does not fit. Returns `out`, for use as a printf argument.
 */
const char *log_quote(char *out, size_t size, const char *s);

/* The size of a buffer for log_quote() that holds any SMTP reply line. */
#define LOG_QUOTE_MAX 600

#endif
