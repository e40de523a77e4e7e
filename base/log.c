/* One-line key=value logging to standard error; see base.h. */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = {
    [LOG_DEBUG] = "debug",
    [LOG_INFO] = "info",
    [LOG_WARN] = "warn",
    [LOG_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
    min_level = level;
}

bool log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

/*
 * Formats the whole line first and writes it with one call, so lines from
 * concurrent threads never interleave.
 */
__attribute__((format(printf, 2, 0))) static void
log_write(enum log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    struct tm tm;
    time_t now;
    size_t n;
    int k;

    if (!log_enabled(level))
        return;
    now = time(NULL);
    gmtime_r(&now, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    k = snprintf(line + n, sizeof(line) - n, " level=%s ", level_names[level]);
    n += (size_t)k;
    k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (k < 0)
        k = 0;
    n += (size_t)k < sizeof(line) - n - 1 ? (size_t)k : sizeof(line) - n - 2;
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

#define LOG_FUNCTION(name, level)                                              \
    void name(const char *fmt, ...)                                            \
    {                                                                          \
        va_list ap;                                                            \
        va_start(ap, fmt);                                                     \
        log_write(level, fmt, ap);                                             \
        va_end(ap);                                                            \
    }

LOG_FUNCTION(log_debug, LOG_DEBUG)
LOG_FUNCTION(log_info, LOG_INFO)
LOG_FUNCTION(log_warn, LOG_WARN)
LOG_FUNCTION(log_error, LOG_ERROR)

const char *log_quote(char *out, size_t size, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    out[n++] = '"';
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        size_t need = c == '"' || c == '\\' ? 2 : c < 0x20 || c == 0x7f ? 4 : 1;

        /* Room for the byte, its escape whole, then `..."` and the NUL:
           the cut goes right after what was written. */
        if (n + need + 5 > size) {
            memcpy(out + n, "...\"", 5);
            return out;
        }
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}
