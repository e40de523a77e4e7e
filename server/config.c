/*
 * Configuration from flags and environment; see config.h.
 *
 * One table lists every setting: its flag, its variable, its default and
 * the parser that checks it and stores it into struct srv_config. A flag
 * wins over its variable, a variable over the default.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A parser stores `value` into `cfg` or writes why not into `why`. */
typedef bool parse_fn(struct srv_config *cfg, const char *value, char *why,
                      size_t whylen);

struct setting {
    const char *flag; /* NULL for settings that are secrets */
    const char *env;
    const char *def; /* NULL when the setting has no default */
    parse_fn *parse;
    const char *help;
};

static bool copy_into(char *dst, size_t size, const char *value, char *why,
                      size_t whylen)
{
    size_t n = strlen(value);

    if (n >= size) {
        snprintf(why, whylen, "is longer than %zu bytes", size - 1);
        return false;
    }
    memcpy(dst, value, n + 1);
    return true;
}

/* Reads an unsigned decimal in [lo, hi]; no sign, no trailing text. */
static bool parse_uint(const char *value, unsigned long lo, unsigned long hi,
                       unsigned long *out)
{
    char *end;

    if (value[0] < '0' || value[0] > '9')
        return false;
    errno = 0;
    *out = strtoul(value, &end, 10);
    return errno == 0 && *end == '\0' && *out >= lo && *out <= hi;
}

static bool parse_listen(struct srv_config *cfg, const char *value, char *why,
                         size_t whylen)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&cfg->listen_sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&cfg->listen_sa;
    const char *given = value, *colon = strrchr(value, ':');
    char host[64];
    unsigned long port;
    size_t hlen;

    if (colon == NULL || !parse_uint(colon + 1, 0, 65535, &port))
        goto bad;
    hlen = (size_t)(colon - value);
    if (hlen >= 2 && value[0] == '[' && value[hlen - 1] == ']') {
        value++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        goto bad;
    memcpy(host, value, hlen);
    host[hlen] = '\0';
    memset(&cfg->listen_sa, 0, sizeof(cfg->listen_sa));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
    } else {
        goto bad;
    }
    return copy_into(cfg->listen, sizeof(cfg->listen), given, why, whylen);
bad:
    snprintf(why, whylen,
             "must be an IP address and a port, such as 127.0.0.1:8080, "
             "0.0.0.0:8080 or [::1]:8080");
    return false;
}

static bool parse_data_dir(struct srv_config *cfg, const char *value, char *why,
                           size_t whylen)
{
    if (value[0] == '\0') {
        snprintf(why, whylen, "must not be empty");
        return false;
    }
    return copy_into(cfg->data_dir, sizeof(cfg->data_dir), value, why, whylen);
}

static bool parse_log_level(struct srv_config *cfg, const char *value,
                            char *why, size_t whylen)
{
    if (log_level_parse(value, &cfg->log_level))
        return true;
    snprintf(why, whylen, "must be debug, info, warn or error");
    return false;
}

/* Bytes, or a number with K, M, KiB or MiB (all powers of 1024). */
static bool parse_max_body(struct srv_config *cfg, const char *value, char *why,
                           size_t whylen)
{
    static const struct {
        const char *suffix;
        unsigned long mult;
    } units[] = {{"", 1},
                 {"K", 1024},
                 {"KiB", 1024},
                 {"M", 1024 * 1024},
                 {"MiB", 1024 * 1024}};
    unsigned long n;
    char *end;

    if (value[0] >= '0' && value[0] <= '9') {
        errno = 0;
        n = strtoul(value, &end, 10);
        for (size_t i = 0; errno == 0 && i < 5; i++) {
            if (strcmp(end, units[i].suffix) == 0 && n > 0 &&
                n <= (1024UL * 1024 * 1024) / units[i].mult) {
                cfg->max_body = n * units[i].mult;
                return true;
            }
        }
    }
    snprintf(why, whylen,
             "must be a size from 1 byte to 1 GiB, such as 10485760, 512K "
             "or 10M");
    return false;
}

static bool parse_token(struct srv_config *cfg, const char *value, char *why,
                        size_t whylen)
{
    if (strlen(value) < 16) {
        snprintf(why, whylen, "must be at least 16 characters long");
        return false;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p <= ' ' || *p > '~') {
            snprintf(why, whylen, "must be printable ASCII without spaces");
            return false;
        }
    }
    return copy_into(cfg->api_token, sizeof(cfg->api_token), value, why,
                     whylen);
}

static bool parse_host(struct srv_config *cfg, const char *value, char *why,
                       size_t whylen)
{
    if (value[0] == '\0' || strpbrk(value, " \t\r\n") != NULL) {
        snprintf(why, whylen, "must be a host name or an IP address");
        return false;
    }
    return copy_into(cfg->smtp_host, sizeof(cfg->smtp_host), value, why,
                     whylen);
}

static bool parse_port(struct srv_config *cfg, const char *value, char *why,
                       size_t whylen)
{
    unsigned long n;

    if (!parse_uint(value, 1, 65535, &n)) {
        snprintf(why, whylen, "must be a number from 1 to 65535");
        return false;
    }
    cfg->smtp_port = (unsigned)n;
    return true;
}

static bool parse_tls(struct srv_config *cfg, const char *value, char *why,
                      size_t whylen)
{
    if (!smtp_tls_mode_parse(value, &cfg->smtp_tls)) {
        snprintf(why, whylen, "must be none, starttls or implicit");
        return false;
    }
    return true;
}

/* Rejects bytes that could break an SMTP command line. */
static bool plain_text(const char *value, char *why, size_t whylen)
{
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f) {
            snprintf(why, whylen, "must not contain control characters");
            return false;
        }
    }
    return true;
}

static bool parse_username(struct srv_config *cfg, const char *value, char *why,
                           size_t whylen)
{
    return plain_text(value, why, whylen) &&
           copy_into(cfg->smtp_username, sizeof(cfg->smtp_username), value, why,
                     whylen);
}

static bool parse_password(struct srv_config *cfg, const char *value, char *why,
                           size_t whylen)
{
    return plain_text(value, why, whylen) &&
           copy_into(cfg->smtp_password, sizeof(cfg->smtp_password), value, why,
                     whylen);
}

static bool parse_helo_name(struct srv_config *cfg, const char *value,
                            char *why, size_t whylen)
{
    if (strpbrk(value, " \t") != NULL) {
        snprintf(why, whylen, "must be one name without spaces");
        return false;
    }
    return plain_text(value, why, whylen) &&
           copy_into(cfg->smtp_helo_name, sizeof(cfg->smtp_helo_name), value,
                     why, whylen);
}

static bool parse_timeout(struct srv_config *cfg, const char *value, char *why,
                          size_t whylen)
{
    unsigned long n;

    if (!parse_uint(value, 1, 3600, &n)) {
        snprintf(why, whylen, "must be a number of seconds from 1 to 3600");
        return false;
    }
    cfg->smtp_timeout_s = (unsigned)n;
    return true;
}

static bool parse_pool(struct srv_config *cfg, const char *value, char *why,
                       size_t whylen)
{
    unsigned long n;

    if (!parse_uint(value, 1, 1024, &n)) {
        snprintf(why, whylen, "must be a number from 1 to 1024");
        return false;
    }
    cfg->smtp_pool = (unsigned)n;
    return true;
}

static const struct setting settings[] = {
    {"--listen", "GATEWAY_LISTEN", "127.0.0.1:8080", parse_listen,
     "address and port to listen on"},
    {"--data-dir", "GATEWAY_DATA_DIR", "./var", parse_data_dir,
     "directory for the gateway's state"},
    {"--log-level", "GATEWAY_LOG_LEVEL", "info", parse_log_level,
     "debug, info, warn or error"},
    {"--max-body", "GATEWAY_MAX_BODY", "10M", parse_max_body,
     "largest request body (bytes, or K/M suffix)"},
    {NULL, "GATEWAY_API_TOKEN", NULL, parse_token,
     "bearer token for /v1/ (required)"},
    {"--smtp-host", "GATEWAY_SMTP_HOST", "localhost", parse_host,
     "SMTP server of the default credential"},
    {"--smtp-port", "GATEWAY_SMTP_PORT", "25", parse_port, "its port"},
    {"--smtp-tls", "GATEWAY_SMTP_TLS", "none", parse_tls,
     "none, starttls or implicit"},
    {"--smtp-helo-name", "GATEWAY_SMTP_HELO_NAME", "", parse_helo_name,
     "name sent in EHLO (default: host name)"},
    {"--smtp-username", "GATEWAY_SMTP_USERNAME", "", parse_username,
     "user name for AUTH"},
    {NULL, "GATEWAY_SMTP_PASSWORD", "", parse_password, "password for AUTH"},
    {"--smtp-timeout", "GATEWAY_SMTP_TIMEOUT", "30", parse_timeout,
     "seconds for connecting and for each reply"},
    {"--smtp-pool", "GATEWAY_SMTP_POOL", "4", parse_pool,
     "most connections open to the SMTP server"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

void srv_config_usage(FILE *out)
{
    fprintf(out, "Usage: smtp-gateway [serve] [options]\n"
                 "       smtp-gateway --help | --version\n\n"
                 "serve (the default) runs the HTTP gateway. Options, each "
                 "also read from its\nenvironment variable (the flag "
                 "wins):\n\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];

        fprintf(out, "  %-18s %-24s %s%s%s%s\n", s->flag ? s->flag : "", s->env,
                s->help, s->def && s->def[0] ? " [" : "",
                s->def && s->def[0] ? s->def : "",
                s->def && s->def[0] ? "]" : "");
    }
    fprintf(out, "\nSecrets (GATEWAY_API_TOKEN, GATEWAY_SMTP_PASSWORD) are "
                 "read from the\nenvironment only.\n");
}

/* Finds the value a flag gives in argv: "--flag value" or "--flag=value". */
static const char *flag_value(const struct setting *s, int argc, char **argv)
{
    size_t n = strlen(s->flag);
    const char *found = NULL;

    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], s->flag, n) != 0)
            continue;
        if (argv[i][n] == '=')
            found = argv[i] + n + 1;
        else if (argv[i][n] == '\0' && i + 1 < argc)
            found = argv[++i];
    }
    return found;
}

/* Every argument must be a known flag with its value. */
static bool check_args(int argc, char **argv, char *errbuf, size_t errlen)
{
    for (int i = 0; i < argc; i++) {
        size_t k = 0;

        while (k < N_SETTINGS) {
            const char *f = settings[k].flag;
            size_t n = f ? strlen(f) : 0;

            if (f && strncmp(argv[i], f, n) == 0 &&
                (argv[i][n] == '=' || argv[i][n] == '\0'))
                break;
            k++;
        }
        if (k == N_SETTINGS) {
            snprintf(errbuf, errlen, "%s: unknown option (see --help)",
                     argv[i]);
            return false;
        }
        if (strchr(argv[i], '=') == NULL && ++i == argc) {
            snprintf(errbuf, errlen, "%s: needs a value", argv[i - 1]);
            return false;
        }
    }
    return true;
}

bool srv_config_load(struct srv_config *cfg, int argc, char **argv,
                     char *errbuf, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    if (!check_args(argc, argv, errbuf, errlen))
        return false;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *value = s->flag ? flag_value(s, argc, argv) : NULL;
        const char *name = s->flag;
        char why[200];

        if (value == NULL) {
            value = getenv(s->env);
            name = s->env;
        }
        if (value == NULL)
            value = s->def;
        if (value == NULL) {
            snprintf(errbuf, errlen, "%s: is required", s->env);
            return false;
        }
        if (!s->parse(cfg, value, why, sizeof(why))) {
            snprintf(errbuf, errlen, "%s: %s", name ? name : s->env, why);
            return false;
        }
    }
    return true;
}

void srv_config_smtp(const struct srv_config *cfg, struct smtp_server *out)
{
    memset(out, 0, sizeof(*out));
    out->host = cfg->smtp_host;
    out->port = cfg->smtp_port;
    out->tls = cfg->smtp_tls;
    out->helo_name = cfg->smtp_helo_name[0] ? cfg->smtp_helo_name : NULL;
    out->username = cfg->smtp_username[0] ? cfg->smtp_username : NULL;
    out->password = cfg->smtp_username[0] ? cfg->smtp_password : NULL;
    out->timeout_ms = cfg->smtp_timeout_s * 1000;
}

void srv_config_wipe(struct srv_config *cfg)
{
    explicit_bzero(cfg->api_token, sizeof(cfg->api_token));
    explicit_bzero(cfg->smtp_password, sizeof(cfg->smtp_password));
}
