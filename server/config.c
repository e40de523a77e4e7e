/*
 * Configuration from flags and environment; see config.h.
 *
 * One table lists the gateway's own settings: its flag, its variable, its
 * default and the parser that checks it and stores it into struct
 * srv_config. The settings of the `default` credential are not listed
 * here: they come from the record's schema (store_credential_setting()),
 * each as --smtp-<key> and GATEWAY_SMTP_<KEY>. A flag wins over its
 * variable, a variable over the default.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct setting;

/* A parser checks `value` and stores it into `cfg` at the setting's
   place, or says why it cannot in `err` (GW_EINVAL). */
typedef enum gw_err parse_fn(struct srv_config *cfg, const struct setting *s,
                             const char *value, struct gw_error *err);

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

static enum gw_err invalid(struct gw_error *err, const char *why)
{
    return gw_error_set(err, GW_EINVAL, "%s", why);
}

static enum gw_err copy_into(char *dst, size_t size, const char *value,
                             struct gw_error *err)
{
    size_t n = strlen(value);

    if (n >= size)
        return gw_error_set(err, GW_EINVAL, "is longer than %zu bytes",
                            size - 1);
    memcpy(dst, value, n + 1);
    return GW_OK;
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

enum gw_err srv_listen_parse(const char *value, struct sockaddr_storage *sa,
                             struct gw_error *err)
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
    return GW_OK;
bad:
    return invalid(err, "must be an IP address and a port, such as "
                        "127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080");
}

static enum gw_err parse_listen(struct srv_config *cfg, const struct setting *s,
                                const char *value, struct gw_error *err)
{
    if (srv_listen_parse(value, &cfg->listen_sa, err) != GW_OK)
        return err->code;
    return copy_into(field(cfg, s), s->size, value, err);
}

/* Any text without control characters, which could break a command. */
static enum gw_err parse_text(struct srv_config *cfg, const struct setting *s,
                              const char *value, struct gw_error *err)
{
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return invalid(err, "must not contain control characters");
    }
    return copy_into(field(cfg, s), s->size, value, err);
}

/* A file the gateway must be able to read, or "" for none. */
static enum gw_err check_readable(const char *value, struct gw_error *err)
{
    if (value[0] != '\0' && access(value, R_OK) != 0)
        return gw_error_set(err, GW_EINVAL, "cannot read %.200s: %s", value,
                            GW_ERRNO_TEXT(errno));
    return GW_OK;
}

static enum gw_err parse_file(struct srv_config *cfg, const struct setting *s,
                              const char *value, struct gw_error *err)
{
    if (check_readable(value, err) != GW_OK)
        return err->code;
    return parse_text(cfg, s, value, err);
}

/* Reads an unsigned number within [lo, hi] into an unsigned field. */
static enum gw_err parse_range(struct srv_config *cfg, const struct setting *s,
                               const char *value, unsigned long lo,
                               unsigned long hi, struct gw_error *err)
{
    unsigned long n;

    if (!parse_uint(value, lo, hi, &n))
        return gw_error_set(err, GW_EINVAL, "must be a number from %lu to %lu",
                            lo, hi);
    *(unsigned *)field(cfg, s) = (unsigned)n;
    return GW_OK;
}

static enum gw_err parse_timeout(struct srv_config *cfg,
                                 const struct setting *s, const char *value,
                                 struct gw_error *err)
{
    if (parse_range(cfg, s, value, 1, 3600, err) == GW_OK)
        return GW_OK;
    return invalid(err, "must be a number of seconds from 1 to 3600");
}

static enum gw_err parse_connections(struct srv_config *cfg,
                                     const struct setting *s, const char *value,
                                     struct gw_error *err)
{
    return parse_range(cfg, s, value, 1, 100000, err);
}

/* The connections of one client; "" leaves it to --max-connections. */
static enum gw_err parse_per_ip(struct srv_config *cfg, const struct setting *s,
                                const char *value, struct gw_error *err)
{
    if (value[0] == '\0') {
        *(unsigned *)field(cfg, s) = 0;
        return GW_OK;
    }
    return parse_range(cfg, s, value, 1, 100000, err);
}

static enum gw_err parse_data_dir(struct srv_config *cfg,
                                  const struct setting *s, const char *value,
                                  struct gw_error *err)
{
    if (value[0] == '\0')
        return invalid(err, "must not be empty");
    return parse_text(cfg, s, value, err);
}

static enum gw_err parse_log_level(struct srv_config *cfg,
                                   const struct setting *s, const char *value,
                                   struct gw_error *err)
{
    (void)s;
    if (log_level_parse(value, &cfg->log_level))
        return GW_OK;
    return invalid(err, "must be debug, info, warn or error");
}

/* Bytes, or a number with K, M, KiB or MiB (all powers of 1024). */
static enum gw_err parse_max_body(struct srv_config *cfg,
                                  const struct setting *s, const char *value,
                                  struct gw_error *err)
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
                return GW_OK;
            }
        }
    }
    return invalid(err, "must be a size from 1 byte to 1 GiB, such as "
                        "10485760, 512K or 10M");
}

static enum gw_err parse_token(struct srv_config *cfg, const struct setting *s,
                               const char *value, struct gw_error *err)
{
    if (value[0] == '\0')
        return invalid(err, "must not be empty");
    for (const char *p = value; *p != '\0'; p++) {
        if (*p <= ' ' || *p > '~')
            return invalid(err, "must be printable ASCII without spaces");
    }
    return copy_into(field(cfg, s), s->size, value, err);
}

/* Base64 text (a sealed box, a key), or "" for none. */
static enum gw_err parse_base64(struct srv_config *cfg, const struct setting *s,
                                const char *value, struct gw_error *err)
{
    size_t n = strlen(value);

    while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == ' '))
        n--;
    if (strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789+/=") != n)
        return invalid(
            err, "must be base64 (smtp-gateway seal and keygen print it)");
    if (n >= s->size)
        return gw_error_set(err, GW_EINVAL, "is longer than %zu bytes",
                            s->size - 1);
    memcpy(field(cfg, s), value, n);
    ((char *)field(cfg, s))[n] = '\0';
    return GW_OK;
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
    {"--max-connections-per-ip", "GATEWAY_MAX_CONNECTIONS_PER_IP", "",
     parse_per_ip, AT(max_connections_per_ip),
     "... of them from one client (an IPv4 address, an IPv6 /64) "
     "[a quarter]"},
    {"--shutdown-timeout", "GATEWAY_SHUTDOWN_TIMEOUT", "25", parse_timeout,
     AT(shutdown_timeout_s), "seconds a stop may take for requests to end"},
    {"--header-timeout", "GATEWAY_HEADER_TIMEOUT", "10", parse_timeout,
     AT(header_timeout_s),
     "seconds for a request head to come whole, and the grace of a body"},
    {NULL, "GATEWAY_API_TOKEN", NULL, parse_token, AT(api_token),
     "bearer token for /v1/ (required)"},
    {NULL, "GATEWAY_SECRET_KEY", "", parse_base64, AT(secret_key),
     "the gateway's secret key (base64) [the one in --data-dir]"},
    {"--secret-key-file", "GATEWAY_SECRET_KEY_FILE", "", parse_file,
     AT(secret_key_file), "file holding the secret key"},
    {"--credentials-file", "GATEWAY_CREDENTIALS_FILE", "", parse_text,
     AT(credentials_file), "credential store [<data-dir>/credentials.json]"},
    {NULL, "GATEWAY_SMTP_PASSWORD", "", parse_text, AT(smtp_password),
     "password for AUTH of the default credential"},
    {NULL, "GATEWAY_SMTP_ACCESS_TOKEN", "", parse_text, AT(smtp_access_token),
     "OAuth 2 access token for XOAUTH2"},
    {NULL, "GATEWAY_SMTP_PASSWORD_SEALED", "", parse_base64,
     AT(smtp_password_sealed), "the password, sealed (smtp-gateway seal)"},
    {NULL, "GATEWAY_SMTP_ACCESS_TOKEN_SEALED", "", parse_base64,
     AT(smtp_access_token_sealed), "the access token, sealed"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* The flag and the variable of a credential setting: "--smtp-ca-file" and
   "GATEWAY_SMTP_CA_FILE" for "ca_file". */
struct cred_names {
    char flag[64];
    char env[64];
};

static void cred_names(const struct store_setting *s, struct cred_names *out)
{
    size_t n = strlen(s->key);

    snprintf(out->flag, sizeof(out->flag), "--smtp-%s", s->key);
    snprintf(out->env, sizeof(out->env), "GATEWAY_SMTP_%s", s->key);
    for (size_t i = 0; i < n; i++) {
        char *f = &out->flag[7 + i], *e = &out->env[13 + i];

        *f = *f == '_' ? '-' : *f;
        *e = (char)toupper((unsigned char)*e);
    }
}

static void usage_line(FILE *out, const char *flag, const char *env,
                       const char *help, const char *def)
{
    bool shown = def != NULL && def[0] != '\0';

    fprintf(out, "  %-18s %-24s %s%s%s%s\n", flag ? flag : "", env, help,
            shown ? " [" : "", shown ? def : "", shown ? "]" : "");
}

void srv_config_usage(FILE *out)
{
    const struct store_setting *cs;

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
    for (size_t i = 0; i < N_SETTINGS; i++)
        usage_line(out, settings[i].flag, settings[i].env, settings[i].help,
                   settings[i].def);
    fprintf(out, "\nThe default credential, also given as JSON keys to "
                 "PUT /v1/credentials/{name}:\n\n");
    for (size_t i = 0; (cs = store_credential_setting(i)) != NULL; i++) {
        struct cred_names names = {{0}, {0}};

        cred_names(cs, &names);
        usage_line(out, names.flag, names.env, cs->help, cs->def);
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

/* True when the argument `arg` is `flag`, alone or as "flag=value". */
static bool is_flag(const char *arg, const char *flag)
{
    size_t n = flag != NULL ? strlen(flag) : 0;

    return n > 0 && strncmp(arg, flag, n) == 0 &&
           (arg[n] == '=' || arg[n] == '\0');
}

/* Finds the value a flag gives in argv: "--flag value" or "--flag=value". */
static const char *flag_value(const char *flag, int argc, char **argv)
{
    size_t n = strlen(flag);
    const char *found = NULL;

    for (int i = 0; i < argc; i++) {
        if (!is_flag(argv[i], flag))
            continue;
        if (argv[i][n] == '=')
            found = argv[i] + n + 1;
        else if (i + 1 < argc)
            found = argv[++i];
    }
    return found;
}

/* True when `arg` is one of the flags of either table. */
static bool known_flag(const char *arg)
{
    const struct store_setting *cs;

    for (size_t k = 0; k < N_SETTINGS; k++) {
        if (is_flag(arg, settings[k].flag))
            return true;
    }
    for (size_t k = 0; (cs = store_credential_setting(k)) != NULL; k++) {
        struct cred_names names = {{0}, {0}};

        cred_names(cs, &names);
        if (is_flag(arg, names.flag))
            return true;
    }
    return false;
}

/* Every argument must be a known flag with its value. */
static enum gw_err check_args(int argc, char **argv, struct gw_error *err)
{
    for (int i = 0; i < argc; i++) {
        if (!known_flag(argv[i]))
            return gw_error_set(err, GW_EINVAL,
                                "%s: unknown option (see --help)", argv[i]);
        if (strchr(argv[i], '=') == NULL && ++i == argc)
            return gw_error_set(err, GW_EINVAL, "%s: needs a value",
                                argv[i - 1]);
    }
    return GW_OK;
}

/* Settings that exclude each other: one line naming the pair. */
static enum gw_err check_pairs(const struct srv_config *cfg,
                               struct gw_error *err)
{
    static const struct {
        size_t a, b; /* offsets of two strings of struct srv_config */
        const char *a_env, *b_env;
    } pairs[] = {
        {offsetof(struct srv_config, smtp_password_sealed),
         offsetof(struct srv_config, smtp_password),
         "GATEWAY_SMTP_PASSWORD_SEALED", "GATEWAY_SMTP_PASSWORD"},
        {offsetof(struct srv_config, smtp_access_token_sealed),
         offsetof(struct srv_config, smtp_access_token),
         "GATEWAY_SMTP_ACCESS_TOKEN_SEALED", "GATEWAY_SMTP_ACCESS_TOKEN"},
        {offsetof(struct srv_config, secret_key_file),
         offsetof(struct srv_config, secret_key), "GATEWAY_SECRET_KEY_FILE",
         "GATEWAY_SECRET_KEY"},
    };

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        const char *a = (const char *)cfg + pairs[i].a;
        const char *b = (const char *)cfg + pairs[i].b;

        if (a[0] != '\0' && b[0] != '\0')
            return gw_error_set(err, GW_EINVAL, "%s: set it or %s, not both",
                                pairs[i].a_env, pairs[i].b_env);
    }
    return GW_OK;
}

/* The value of a setting: its flag's, else its variable's, else NULL;
   `*name` says which, for an error. */
static const char *value_of(const char *flag, const char *env, int argc,
                            char **argv, const char **name)
{
    const char *value = flag != NULL ? flag_value(flag, argc, argv) : NULL;

    *name = flag;
    if (value == NULL) {
        value = getenv(env);
        *name = env;
    }
    return value;
}

/* Reads the settings of the `default` credential into cfg->smtp. */
static enum gw_err load_credential(struct srv_config *cfg, int argc,
                                   char **argv, struct gw_error *err)
{
    const struct store_setting *cs;

    store_credential_defaults(&cfg->smtp, "default");
    for (size_t i = 0; (cs = store_credential_setting(i)) != NULL; i++) {
        struct gw_field_error fe;
        struct cred_names names = {{0}, {0}};
        const char *name, *value;

        cred_names(cs, &names);
        value = value_of(names.flag, names.env, argc, argv, &name);
        if (value == NULL)
            continue;
        if ((cs->flags & STORE_FILE) && check_readable(value, err) != GW_OK)
            return gw_error_prefix(err, name);
        if (!store_credential_set(&cfg->smtp, cs, value, &fe))
            return gw_error_set(err, GW_EINVAL, "%s: %s", name, fe.text);
    }
    return GW_OK;
}

bool srv_config_load(struct srv_config *cfg, int argc, char **argv,
                     struct gw_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    if (check_args(argc, argv, err) != GW_OK)
        return false;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *name;
        const char *value = value_of(s->flag, s->env, argc, argv, &name);

        if (value == NULL)
            value = s->def;
        if (value == NULL) {
            gw_error_set(err, GW_EINVAL, "%s: is required", s->env);
            return false;
        }
        if (s->parse(cfg, s, value, err) != GW_OK) {
            gw_error_prefix(err, name);
            return false;
        }
    }
    return load_credential(cfg, argc, argv, err) == GW_OK &&
           check_pairs(cfg, err) == GW_OK;
}

void srv_config_credential(const struct srv_config *cfg,
                           struct store_credential *out)
{
    *out = cfg->smtp;
    if (cfg->smtp.username[0] == '\0')
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
