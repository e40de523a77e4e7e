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
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtp/smtp.h"

struct setting;

/* A parser checks `value` and stores it into `cfg` at the setting's
   place, or writes why it cannot into `why`. */
typedef bool parse_fn(struct srv_config *cfg, const struct setting *s,
                      const char *value, char *why, size_t whylen);

struct setting {
    const char *flag; /* NULL for settings that are secrets */
    const char *env;
    const char *def; /* NULL when the setting has no default */
    parse_fn *parse;
    size_t offset; /* where in struct srv_config the value goes */
    size_t size;   /* its size there */
    const char *help;
};

/* The field of `cfg` that setting `s` fills. */
static void *field(struct srv_config *cfg, const struct setting *s)
{
    return (char *)cfg + s->offset;
}

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

bool srv_listen_parse(const char *value, struct sockaddr_storage *sa, char *why,
                      size_t whylen)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    const char *colon = strrchr(value, ':');
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
    memset(sa, 0, sizeof(*sa));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
    } else {
        goto bad;
    }
    return true;
bad:
    snprintf(why, whylen,
             "must be an IP address and a port, such as 127.0.0.1:8080, "
             "0.0.0.0:8080 or [::1]:8080");
    return false;
}

static bool parse_listen(struct srv_config *cfg, const struct setting *s,
                         const char *value, char *why, size_t whylen)
{
    return srv_listen_parse(value, &cfg->listen_sa, why, whylen) &&
           copy_into(field(cfg, s), s->size, value, why, whylen);
}

/* Any text without control characters, which could break a command. */
static bool parse_text(struct srv_config *cfg, const struct setting *s,
                       const char *value, char *why, size_t whylen)
{
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f) {
            snprintf(why, whylen, "must not contain control characters");
            return false;
        }
    }
    return copy_into(field(cfg, s), s->size, value, why, whylen);
}

/* One word: a host name, an EHLO name. */
static bool parse_word(struct srv_config *cfg, const struct setting *s,
                       const char *value, char *why, size_t whylen)
{
    if (strpbrk(value, " \t") != NULL) {
        snprintf(why, whylen, "must be one word without spaces");
        return false;
    }
    return parse_text(cfg, s, value, why, whylen);
}

static bool parse_host(struct srv_config *cfg, const struct setting *s,
                       const char *value, char *why, size_t whylen)
{
    if (value[0] == '\0') {
        snprintf(why, whylen, "must be a host name or an IP address");
        return false;
    }
    return parse_word(cfg, s, value, why, whylen);
}

/* A file the gateway must be able to read, or "" for none. */
static bool parse_file(struct srv_config *cfg, const struct setting *s,
                       const char *value, char *why, size_t whylen)
{
    if (value[0] != '\0' && access(value, R_OK) != 0) {
        snprintf(why, whylen, "cannot read %.200s: %s", value,
                 GW_ERRNO_TEXT(errno));
        return false;
    }
    return parse_text(cfg, s, value, why, whylen);
}

static bool parse_bool(struct srv_config *cfg, const struct setting *s,
                       const char *value, char *why, size_t whylen)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    bool *out = field(cfg, s);

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
            *out = strcasecmp(value, yes[i]) == 0;
            return true;
        }
    }
    snprintf(why, whylen, "must be true or false");
    return false;
}

/* Reads an unsigned number within [lo, hi] into an unsigned field. */
static bool parse_range(struct srv_config *cfg, const struct setting *s,
                        const char *value, unsigned long lo, unsigned long hi,
                        char *why, size_t whylen)
{
    unsigned long n;

    if (!parse_uint(value, lo, hi, &n)) {
        snprintf(why, whylen, "must be a number from %lu to %lu", lo, hi);
        return false;
    }
    *(unsigned *)field(cfg, s) = (unsigned)n;
    return true;
}

static bool parse_port(struct srv_config *cfg, const struct setting *s,
                       const char *value, char *why, size_t whylen)
{
    return parse_range(cfg, s, value, 1, 65535, why, whylen);
}

static bool parse_pool(struct srv_config *cfg, const struct setting *s,
                       const char *value, char *why, size_t whylen)
{
    return parse_range(cfg, s, value, 1, 1024, why, whylen);
}

static bool parse_timeout(struct srv_config *cfg, const struct setting *s,
                          const char *value, char *why, size_t whylen)
{
    if (parse_range(cfg, s, value, 1, 3600, why, whylen))
        return true;
    snprintf(why, whylen, "must be a number of seconds from 1 to 3600");
    return false;
}

/* A step's own timeout; "" leaves it to GATEWAY_SMTP_TIMEOUT. */
static bool parse_step_timeout(struct srv_config *cfg, const struct setting *s,
                               const char *value, char *why, size_t whylen)
{
    if (value[0] == '\0') {
        *(unsigned *)field(cfg, s) = 0;
        return true;
    }
    return parse_timeout(cfg, s, value, why, whylen);
}

static bool parse_connections(struct srv_config *cfg, const struct setting *s,
                              const char *value, char *why, size_t whylen)
{
    return parse_range(cfg, s, value, 1, 100000, why, whylen);
}

static bool parse_idle_timeout(struct srv_config *cfg, const struct setting *s,
                               const char *value, char *why, size_t whylen)
{
    if (parse_range(cfg, s, value, 0, 3600, why, whylen))
        return true;
    snprintf(why, whylen, "must be a number of seconds from 0 to 3600");
    return false;
}

static bool parse_ip_version(struct srv_config *cfg, const struct setting *s,
                             const char *value, char *why, size_t whylen)
{
    if (strcmp(value, "0") == 0 || strcmp(value, "4") == 0 ||
        strcmp(value, "6") == 0)
        return parse_range(cfg, s, value, 0, 6, why, whylen);
    snprintf(why, whylen, "must be 0 (any), 4 or 6");
    return false;
}

static bool parse_data_dir(struct srv_config *cfg, const struct setting *s,
                           const char *value, char *why, size_t whylen)
{
    if (value[0] == '\0') {
        snprintf(why, whylen, "must not be empty");
        return false;
    }
    return parse_text(cfg, s, value, why, whylen);
}

static bool parse_log_level(struct srv_config *cfg, const struct setting *s,
                            const char *value, char *why, size_t whylen)
{
    (void)s;
    if (log_level_parse(value, &cfg->log_level))
        return true;
    snprintf(why, whylen, "must be debug, info, warn or error");
    return false;
}

/* Bytes, or a number with K, M, KiB or MiB (all powers of 1024). */
static bool parse_max_body(struct srv_config *cfg, const struct setting *s,
                           const char *value, char *why, size_t whylen)
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

    (void)s;
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

static bool parse_token(struct srv_config *cfg, const struct setting *s,
                        const char *value, char *why, size_t whylen)
{
    if (value[0] == '\0') {
        snprintf(why, whylen, "must not be empty");
        return false;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p <= ' ' || *p > '~') {
            snprintf(why, whylen, "must be printable ASCII without spaces");
            return false;
        }
    }
    return copy_into(field(cfg, s), s->size, value, why, whylen);
}

/* Base64 text (a sealed box, a key), or "" for none. */
static bool parse_base64(struct srv_config *cfg, const struct setting *s,
                         const char *value, char *why, size_t whylen)
{
    size_t n = strlen(value);

    while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == ' '))
        n--;
    if (strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789+/=") != n) {
        snprintf(why, whylen,
                 "must be base64 (smtp-gateway seal and keygen print it)");
        return false;
    }
    if (n >= s->size) {
        snprintf(why, whylen, "is longer than %zu bytes", s->size - 1);
        return false;
    }
    memcpy(field(cfg, s), value, n);
    ((char *)field(cfg, s))[n] = '\0';
    return true;
}

static bool parse_tls(struct srv_config *cfg, const struct setting *s,
                      const char *value, char *why, size_t whylen)
{
    (void)s;
    if (!smtp_tls_mode_parse(value, &cfg->smtp_tls)) {
        snprintf(why, whylen, "must be none, starttls or implicit");
        return false;
    }
    return true;
}

static bool parse_mechanisms(struct srv_config *cfg, const struct setting *s,
                             const char *value, char *why, size_t whylen)
{
    struct gw_error err = {0};

    if (smtp_sasl_check_list(value, &err) != GW_OK) {
        snprintf(why, whylen, "%s", err.detail);
        return false;
    }
    return parse_text(cfg, s, value, why, whylen);
}

/* The place and size of a field of struct srv_config. */
#define AT(f)                                                                  \
    offsetof(struct srv_config, f), sizeof(((struct srv_config *)0)->f)

static const struct setting settings[] = {
    {"--listen", "GATEWAY_LISTEN", "127.0.0.1:8080", parse_listen, AT(listen),
     "address and port to listen on"},
    {"--data-dir", "GATEWAY_DATA_DIR", "./var", parse_data_dir, AT(data_dir),
     "directory for the gateway's state"},
    {"--log-level", "GATEWAY_LOG_LEVEL", "info", parse_log_level, AT(log_level),
     "debug, info, warn or error"},
    {"--max-body", "GATEWAY_MAX_BODY", "10M", parse_max_body, AT(max_body),
     "largest request body (bytes, or K/M suffix)"},
    {"--max-connections", "GATEWAY_MAX_CONNECTIONS", "1000", parse_connections,
     AT(max_connections), "HTTP connections open at once"},
    {"--shutdown-timeout", "GATEWAY_SHUTDOWN_TIMEOUT", "25", parse_timeout,
     AT(shutdown_timeout_s), "seconds a stop may take for requests to end"},
    {NULL, "GATEWAY_API_TOKEN", NULL, parse_token, AT(api_token),
     "bearer token for /v1/ (required)"},
    {NULL, "GATEWAY_SECRET_KEY", "", parse_base64, AT(secret_key),
     "the gateway's secret key (base64) [the one in --data-dir]"},
    {"--secret-key-file", "GATEWAY_SECRET_KEY_FILE", "", parse_file,
     AT(secret_key_file), "file holding the secret key"},
    {"--credentials-file", "GATEWAY_CREDENTIALS_FILE", "", parse_text,
     AT(credentials_file), "credential store [<data-dir>/credentials.json]"},
    {"--smtp-host", "GATEWAY_SMTP_HOST", "localhost", parse_host, AT(smtp_host),
     "SMTP server of the default credential"},
    {"--smtp-port", "GATEWAY_SMTP_PORT", "25", parse_port, AT(smtp_port),
     "its port"},
    {"--smtp-ip-version", "GATEWAY_SMTP_IP_VERSION", "0", parse_ip_version,
     AT(smtp_ip_version), "0 (any), 4 or 6"},
    {"--smtp-tls", "GATEWAY_SMTP_TLS", "none", parse_tls, AT(smtp_tls),
     "none, starttls or implicit"},
    {"--smtp-ca-file", "GATEWAY_SMTP_CA_FILE", "", parse_file, AT(smtp_ca_file),
     "CA bundle (PEM) [system bundle]"},
    {"--smtp-verify-peer", "GATEWAY_SMTP_VERIFY_PEER", "true", parse_bool,
     AT(smtp_verify_peer), "check the server's certificate chain"},
    {"--smtp-check-server-identity", "GATEWAY_SMTP_CHECK_SERVER_IDENTITY",
     "true", parse_bool, AT(smtp_check_server_identity),
     "check the host name in the certificate"},
    {"--smtp-client-cert", "GATEWAY_SMTP_CLIENT_CERT", "", parse_file,
     AT(smtp_client_cert), "client certificate (PEM)"},
    {"--smtp-client-key", "GATEWAY_SMTP_CLIENT_KEY", "", parse_file,
     AT(smtp_client_key), "its private key (PEM)"},
    {"--smtp-helo-name", "GATEWAY_SMTP_HELO_NAME", "", parse_word,
     AT(smtp_helo_name), "name sent in EHLO [host name]"},
    {"--smtp-username", "GATEWAY_SMTP_USERNAME", "", parse_text,
     AT(smtp_username), "user name for AUTH"},
    {NULL, "GATEWAY_SMTP_PASSWORD", "", parse_text, AT(smtp_password),
     "password for AUTH"},
    {NULL, "GATEWAY_SMTP_ACCESS_TOKEN", "", parse_text, AT(smtp_access_token),
     "OAuth 2 access token for XOAUTH2"},
    {NULL, "GATEWAY_SMTP_PASSWORD_SEALED", "", parse_base64,
     AT(smtp_password_sealed), "the password, sealed (smtp-gateway seal)"},
    {NULL, "GATEWAY_SMTP_ACCESS_TOKEN_SEALED", "", parse_base64,
     AT(smtp_access_token_sealed), "the access token, sealed"},
    {"--smtp-mechanisms", "GATEWAY_SMTP_MECHANISMS",
     "CRAM-MD5,XOAUTH2,LOGIN,PLAIN", parse_mechanisms, AT(smtp_mechanisms),
     "AUTH mechanisms, in order of preference"},
    {"--smtp-auth-from", "GATEWAY_SMTP_AUTH_FROM", "", parse_text,
     AT(smtp_auth_from), "AUTH= parameter of MAIL FROM"},
    {"--smtp-allow-plaintext-auth", "GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH",
     "false", parse_bool, AT(smtp_allow_plaintext_auth),
     "allow AUTH (any mechanism) without TLS"},
    {"--smtp-ignore-failed-auth", "GATEWAY_SMTP_IGNORE_FAILED_AUTH", "false",
     parse_bool, AT(smtp_ignore_failed_auth),
     "send unauthenticated when AUTH fails"},
    {"--smtp-timeout", "GATEWAY_SMTP_TIMEOUT", "30", parse_timeout,
     AT(smtp_timeout_s), "seconds for each step, and for a free connection"},
    {"--smtp-connect-timeout", "GATEWAY_SMTP_CONNECT_TIMEOUT", "",
     parse_step_timeout, AT(smtp_connect_timeout_s),
     "seconds to connect and for TLS"},
    {"--smtp-greeting-timeout", "GATEWAY_SMTP_GREETING_TIMEOUT", "",
     parse_step_timeout, AT(smtp_greeting_timeout_s),
     "seconds for the 220 greeting"},
    {"--smtp-command-timeout", "GATEWAY_SMTP_COMMAND_TIMEOUT", "",
     parse_step_timeout, AT(smtp_command_timeout_s),
     "seconds for each command's reply"},
    {"--smtp-data-timeout", "GATEWAY_SMTP_DATA_TIMEOUT", "", parse_step_timeout,
     AT(smtp_data_timeout_s), "seconds for writing each block of data"},
    {"--smtp-dot-timeout", "GATEWAY_SMTP_DOT_TIMEOUT", "", parse_step_timeout,
     AT(smtp_dot_timeout_s), "seconds for the reply to the final dot"},
    {"--smtp-pool", "GATEWAY_SMTP_POOL", "4", parse_pool, AT(smtp_pool),
     "most connections open to the SMTP server"},
    {"--smtp-idle-timeout", "GATEWAY_SMTP_IDLE_TIMEOUT", "30",
     parse_idle_timeout, AT(smtp_idle_timeout_s),
     "seconds a connection stays open for reuse (0: none)"},
    {"--smtp-deadline", "GATEWAY_SMTP_DEADLINE", "", parse_step_timeout,
     AT(smtp_deadline_s),
     "seconds for a whole send [twice the longest step timeout]"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

void srv_config_usage(FILE *out)
{
    fprintf(out, "Usage: smtp-gateway [serve] [options]\n"
                 "       smtp-gateway healthcheck [--listen host:port]\n"
                 "       smtp-gateway --help | --version\n\n"
                 "healthcheck asks the gateway at --listen (GATEWAY_LISTEN; "
                 "a wildcard address\nis reached through loopback) for "
                 "GET /healthz and exits 0 when it answers\n"
                 "{\"status\":\"ok\"} within 3 seconds, 1 otherwise: "
                 "for container health checks.\n\n"
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
    fprintf(out,
            "\nSecrets (GATEWAY_API_TOKEN, GATEWAY_SECRET_KEY, "
            "GATEWAY_SMTP_PASSWORD, ...) are\nread from the environment "
            "only.\n\n"
            "Other commands:\n"
            "  smtp-gateway keygen [--force]\n"
            "  smtp-gateway seal [--public-key KEY | --url URL] < secret\n"
            "  smtp-gateway token create NAME --scope send|admin "
            "[--credentials a,b]\n"
            "                            [--from-domains example.com]\n"
            "  smtp-gateway token list | token delete NAME\n"
            "  smtp-gateway rekey [--new-key-file PATH]\n"
            "They take --data-dir, --secret-key-file and --credentials-file "
            "as serve does.\n");
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

/* Settings that exclude each other: one line naming the pair. */
static bool check_pairs(const struct srv_config *cfg, char *errbuf,
                        size_t errlen)
{
    const char *bad = NULL, *other = NULL;

    if (cfg->smtp_password[0] != '\0' && cfg->smtp_password_sealed[0] != '\0')
        bad = "GATEWAY_SMTP_PASSWORD_SEALED", other = "GATEWAY_SMTP_PASSWORD";
    else if (cfg->smtp_access_token[0] != '\0' &&
             cfg->smtp_access_token_sealed[0] != '\0')
        bad = "GATEWAY_SMTP_ACCESS_TOKEN_SEALED",
        other = "GATEWAY_SMTP_ACCESS_TOKEN";
    else if (cfg->secret_key[0] != '\0' && cfg->secret_key_file[0] != '\0')
        bad = "GATEWAY_SECRET_KEY_FILE", other = "GATEWAY_SECRET_KEY";
    if (bad == NULL)
        return true;
    snprintf(errbuf, errlen, "%s: set it or %s, not both", bad, other);
    return false;
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
        if (!s->parse(cfg, s, value, why, sizeof(why))) {
            snprintf(errbuf, errlen, "%s: %s", name ? name : s->env, why);
            return false;
        }
    }
    return check_pairs(cfg, errbuf, errlen);
}

void srv_config_credential(const struct srv_config *cfg,
                           struct api_credential *out)
{
    api_credential_defaults(out, "default");
    snprintf(out->host, sizeof(out->host), "%s", cfg->smtp_host);
    out->port = cfg->smtp_port;
    out->ip_version = cfg->smtp_ip_version;
    out->tls = cfg->smtp_tls;
    snprintf(out->ca_file, sizeof(out->ca_file), "%s", cfg->smtp_ca_file);
    out->verify_peer = cfg->smtp_verify_peer;
    out->check_server_identity = cfg->smtp_check_server_identity;
    snprintf(out->client_cert, sizeof(out->client_cert), "%s",
             cfg->smtp_client_cert);
    snprintf(out->client_key, sizeof(out->client_key), "%s",
             cfg->smtp_client_key);
    snprintf(out->helo_name, sizeof(out->helo_name), "%s", cfg->smtp_helo_name);
    snprintf(out->username, sizeof(out->username), "%s", cfg->smtp_username);
    snprintf(out->mechanisms, sizeof(out->mechanisms), "%s",
             cfg->smtp_mechanisms);
    snprintf(out->auth_from, sizeof(out->auth_from), "%s", cfg->smtp_auth_from);
    out->allow_plaintext_auth = cfg->smtp_allow_plaintext_auth;
    out->ignore_failed_auth = cfg->smtp_ignore_failed_auth;
    out->timeout_s = cfg->smtp_timeout_s;
    out->idle_timeout_s = cfg->smtp_idle_timeout_s;
    out->connect_timeout_s = cfg->smtp_connect_timeout_s;
    out->greeting_timeout_s = cfg->smtp_greeting_timeout_s;
    out->command_timeout_s = cfg->smtp_command_timeout_s;
    out->data_timeout_s = cfg->smtp_data_timeout_s;
    out->dot_timeout_s = cfg->smtp_dot_timeout_s;
    out->deadline_s = cfg->smtp_deadline_s;
    out->pool = cfg->smtp_pool;
    if (cfg->smtp_username[0] == '\0')
        return;
    memcpy(out->password_box, cfg->smtp_password_sealed,
           sizeof(out->password_box));
    memcpy(out->access_token_box, cfg->smtp_access_token_sealed,
           sizeof(out->access_token_box));
}

void srv_config_scrub_environ(void)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char *value = settings[i].flag ? NULL : getenv(settings[i].env);

        if (value != NULL) {
            explicit_bzero(value, strlen(value));
            unsetenv(settings[i].env);
        }
    }
}

void srv_config_wipe(struct srv_config *cfg)
{
    explicit_bzero(cfg->api_token, sizeof(cfg->api_token));
    explicit_bzero(cfg->secret_key, sizeof(cfg->secret_key));
    explicit_bzero(cfg->smtp_password, sizeof(cfg->smtp_password));
    explicit_bzero(cfg->smtp_access_token, sizeof(cfg->smtp_access_token));
}
