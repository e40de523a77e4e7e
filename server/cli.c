/* keygen, seal, token and rekey; see cli.h. */
#include "cli.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net.h"
#include "store/store.h"
#include "gateway.h"
#include "core/core.h"

/* Which command a flag belongs to; the path flags belong to all. */
enum {
    C_KEYGEN = 1,
    C_SEAL = 2,
    C_TOKEN = 4,
    C_REKEY = 8,
    C_ALL = 15,
};

struct opts {
    unsigned cmd;
    const char *data_dir, *secret_key_file, *credentials_file;
    const char *public_key, *url, *ca_file;
    const char *scope, *credentials, *from_domains;
    const char *new_key_file;
    const char *force; /* non-NULL when given */
    const char *args[3];
    int n_args;
};

static const struct flag {
    const char *name;
    size_t off;
    unsigned cmds;
    bool takes_value;
} flags[] = {
    {"--data-dir", offsetof(struct opts, data_dir), C_ALL, true},
    {"--secret-key-file", offsetof(struct opts, secret_key_file), C_ALL, true},
    {"--credentials-file", offsetof(struct opts, credentials_file), C_ALL,
     true},
    {"--public-key", offsetof(struct opts, public_key), C_SEAL, true},
    {"--url", offsetof(struct opts, url), C_SEAL, true},
    {"--ca-file", offsetof(struct opts, ca_file), C_SEAL, true},
    {"--scope", offsetof(struct opts, scope), C_TOKEN, true},
    {"--credentials", offsetof(struct opts, credentials), C_TOKEN, true},
    {"--from-domains", offsetof(struct opts, from_domains), C_TOKEN, true},
    {"--new-key-file", offsetof(struct opts, new_key_file), C_REKEY, true},
    {"--force", offsetof(struct opts, force), C_KEYGEN, false},
};

static const struct {
    const char *name;
    unsigned cmd;
} commands[] = {
    {"keygen", C_KEYGEN},
    {"seal", C_SEAL},
    {"token", C_TOKEN},
    {"rekey", C_REKEY},
};

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: one line on stderr, exit code 2. */
static int usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "smtp-gateway: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

static int fail(const char *what, const struct gw_error *err)
{
    fprintf(stderr, "smtp-gateway: %s: %s\n", what, err->detail);
    return 1;
}

bool srv_cli_has(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Sets the flag at argv[*i] ("--f v" or "--f=v"); false when unknown. */
static bool take_flag(struct opts *o, int argc, char **argv, int *i)
{
    for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
        const struct flag *f = &flags[k];
        size_t n = strlen(f->name);
        const char **dst = (const char **)((char *)o + f->off);

        if (!(f->cmds & o->cmd) || strncmp(argv[*i], f->name, n) != 0)
            continue;
        if (!f->takes_value && argv[*i][n] == '\0') {
            *dst = "yes";
            return true;
        }
        if (f->takes_value && argv[*i][n] == '=') {
            *dst = argv[*i] + n + 1;
            return true;
        }
        if (f->takes_value && argv[*i][n] == '\0' && *i + 1 < argc) {
            *dst = argv[++*i];
            return true;
        }
    }
    return false;
}

static bool parse(struct opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            if (!take_flag(o, argc, argv, &i)) {
                usage("%s: unknown option, or no value", argv[i]);
                return false;
            }
        } else if (o->n_args < 3) {
            o->args[o->n_args++] = argv[i];
        } else {
            usage("%s: too many arguments", argv[i]);
            return false;
        }
    }
    return true;
}

/* The settings of state: flags, else variables, else defaults. */
static bool load_config(const struct opts *o, struct srv_config *cfg)
{
    const char *dir = o->data_dir ? o->data_dir : getenv("GATEWAY_DATA_DIR");
    const char *key = getenv("GATEWAY_SECRET_KEY");
    const char *file = o->secret_key_file ? o->secret_key_file
                                          : getenv("GATEWAY_SECRET_KEY_FILE");
    const char *creds = o->credentials_file
                            ? o->credentials_file
                            : getenv("GATEWAY_CREDENTIALS_FILE");

    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s",
             dir && dir[0] ? dir : "./var");
    snprintf(cfg->secret_key_file, sizeof(cfg->secret_key_file), "%s",
             file ? file : "");
    snprintf(cfg->credentials_file, sizeof(cfg->credentials_file), "%s",
             creds ? creds : "");
    if (key != NULL && strlen(key) >= sizeof(cfg->secret_key)) {
        usage("%s: is too long", "GATEWAY_SECRET_KEY");
        return false;
    }
    snprintf(cfg->secret_key, sizeof(cfg->secret_key), "%s", key ? key : "");
    srv_config_scrub_environ();
    if (cfg->secret_key[0] != '\0' && cfg->secret_key_file[0] != '\0') {
        usage("%s: set it or GATEWAY_SECRET_KEY, not both",
              "GATEWAY_SECRET_KEY_FILE");
        return false;
    }
    return true;
}

static bool make_dir(const struct srv_config *cfg)
{
    struct gw_error err = {0};

    if (store_file_mkdirs(cfg->data_dir, &err) &&
        store_file_check_private(cfg->data_dir, &err))
        return true;
    fprintf(stderr, "smtp-gateway: GATEWAY_DATA_DIR: %s\n", err.detail);
    return false;
}

static void print_key(const struct vault *v)
{
    printf("{\"key_id\":\"%s\",\"public_key\":\"%s\"}\n", vault_key_id(v),
           vault_public_key(v));
}

static int cmd_keygen(const struct opts *o, const struct srv_config *cfg,
                      const struct core_key_paths *paths)
{
    const char *target =
        cfg->secret_key_file[0] ? cfg->secret_key_file : paths->key;
    struct gw_error err = {0};
    struct vault *v;
    enum gw_err rc;

    if (o->n_args > 0)
        return usage("%s: keygen takes no argument", o->args[0]);
    if (cfg->secret_key[0] != '\0')
        return usage("GATEWAY_SECRET_KEY is set: the gateway uses that key");
    if (access(target, F_OK) == 0 && o->force == NULL) {
        fprintf(stderr,
                "smtp-gateway: %s holds a key already: rekey replaces it and "
                "re-seals every stored secret (keygen --force replaces it "
                "and leaves them sealed for the old key)\n",
                target);
        return 1;
    }
    if (target == paths->key && !make_dir(cfg))
        return 1;
    v = vault_generate(&err);
    if (v == NULL)
        return fail("keygen", &err);
    rc = vault_save(v, target, target == paths->key ? paths->public_key : NULL,
                    &err);
    if (rc == GW_OK)
        print_key(v);
    vault_free(v);
    return rc == GW_OK ? 0 : fail("keygen", &err);
}

/*
 * Reads the secret from standard input into `out`: one final line end
 * (as `<<<` and `echo` add) is not part of it.
 */
static bool read_secret(struct buf *out)
{
    char chunk[512];
    size_t n;
    bool ok = true;

    while (ok && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        ok = buf_append(out, chunk, n) == GW_OK;
    explicit_bzero(chunk, sizeof(chunk));
    if (!ok || ferror(stdin))
        return false;
    if (out->len > 0 && out->data[out->len - 1] == '\n')
        out->data[--out->len] = '\0';
    if (out->len > 0 && out->data[out->len - 1] == '\r')
        out->data[--out->len] = '\0';
    return true;
}

/* Milliseconds `seal --url` may take to get the key. */
#define FETCH_TIMEOUT_MS 15000

/* The public key of a running gateway, checked against its key id. */
static bool fetch_key(const struct opts *o, char *key, size_t size,
                      struct gw_error *err)
{
    const struct net_http_get req = {
        .url = o->url,
        .path = "/v1/public-key",
        .ca_file = o->ca_file,
        .accept = "application/json",
        .timeout_ms = FETCH_TIMEOUT_MS,
    };
    char id[VAULT_KEY_ID_LEN + 1], want[64];
    struct buf body;
    enum gw_err rc;
    int status;

    buf_init(&body, 64 * 1024);
    rc = net_http_get(&req, &status, &body, err);
    if (rc == GW_OK && status != 200)
        rc = gw_error_set(err, GW_EINVAL, "%s: the reply has status %d", o->url,
                          status);
    if (rc == GW_OK)
        rc = store_public_key_decode(body.data, body.len, want, sizeof(want),
                                     key, size, err);
    buf_free(&body);
    if (rc == GW_OK &&
        (vault_public_key_id(key, id, err) != GW_OK || strcmp(id, want) != 0))
        rc = gw_error_set(err, GW_EINVAL,
                          "%s: the public key does not match its key id",
                          o->url);
    return rc == GW_OK;
}

/* The key to seal for: given, fetched, or the data directory's. */
static bool public_key(const struct opts *o, const struct srv_config *cfg,
                       const struct core_key_paths *paths, char *key,
                       size_t size, struct gw_error *err)
{
    enum core_key_source source;
    struct store *records;
    struct vault *v = NULL;

    if (o->public_key != NULL) {
        snprintf(key, size, "%s", o->public_key);
        return true;
    }
    if (o->url != NULL)
        return fetch_key(o, key, size, err);
    records = srv_store_open(paths, err);
    if (records != NULL)
        v = srv_key_load(cfg, paths, records, false, &source, err);
    store_close(records);
    if (v == NULL)
        return false;
    snprintf(key, size, "%s", vault_public_key(v));
    vault_free(v);
    return true;
}

static int cmd_seal(const struct opts *o, const struct srv_config *cfg,
                    const struct core_key_paths *paths)
{
    char key[VAULT_PUBLIC_MAX + 8];
    struct gw_error err = {0};
    struct buf secret, box;
    int rc = 1;

    if (o->n_args > 0)
        return usage("%s: seal reads the secret from standard input",
                     o->args[0]);
    if (o->public_key != NULL && o->url != NULL)
        return usage("%s: give --public-key or --url, not both", "seal");
    if (!public_key(o, cfg, paths, key, sizeof(key), &err))
        return fail("seal", &err);
    buf_init(&secret, VAULT_SECRET_MAX + 2);
    buf_init(&box, VAULT_BOX_MAX);
    if (!read_secret(&secret))
        fprintf(stderr,
                "smtp-gateway: seal: cannot read the secret (at most "
                "%d bytes) from standard input\n",
                VAULT_SECRET_MAX);
    else if (secret.len == 0)
        fprintf(stderr, "smtp-gateway: seal: nothing to seal on standard "
                        "input\n");
    else if (vault_seal(key, secret.data, secret.len, &box, &err) != GW_OK)
        fail("seal", &err);
    else
        rc = printf("%s\n", buf_cstr(&box)) > 0 ? 0 : 1;
    if (secret.data != NULL)
        explicit_bzero(secret.data, secret.len);
    buf_free(&secret);
    buf_free(&box);
    return rc;
}

/* Fills the record of `token create` from the options. */
static int token_record(const struct opts *o, struct store_token *t)
{
    struct gw_error err = {0};

    memset(t, 0, sizeof(*t));
    if (o->n_args != 2 || !store_name_valid(o->args[1]))
        return usage("%s: token create NAME: 1 to 64 letters, digits, '.', "
                     "'_' or '-'",
                     o->n_args > 1 ? o->args[1] : "token create");
    snprintf(t->name, sizeof(t->name), "%s", o->args[1]);
    if (o->scope == NULL ||
        (strcmp(o->scope, "send") != 0 && strcmp(o->scope, "admin") != 0))
        return usage("%s: --scope send or --scope admin is required",
                     "token create");
    t->scope =
        strcmp(o->scope, "admin") == 0 ? STORE_SCOPE_ADMIN : STORE_SCOPE_SEND;
    if (o->credentials != NULL &&
        store_list_check(o->credentials, false, &err) != GW_OK)
        return usage("--credentials: %s", err.detail);
    if (o->from_domains != NULL &&
        store_list_check(o->from_domains, true, &err) != GW_OK)
        return usage("--from-domains: %s", err.detail);
    snprintf(t->credentials, sizeof(t->credentials), "%s",
             o->credentials ? o->credentials : "");
    snprintf(t->from_domains, sizeof(t->from_domains), "%s",
             o->from_domains ? o->from_domains : "");
    return 0;
}

static int token_create(const struct opts *o, struct core_tokens *tokens)
{
    char token[VAULT_TOKEN_MAX];
    struct gw_error err = {0};
    struct store_token t;
    int rc = token_record(o, &t);

    if (rc != 0)
        return rc;
    if (core_tokens_create(tokens, &t, token, sizeof(token), &err) != GW_OK)
        return fail("token create", &err);
    printf("%s\n", token);
    explicit_bzero(token, sizeof(token));
    return 0;
}

static int token_list(struct core_tokens *tokens)
{
    struct store_token *list;
    struct gw_error err = {0};
    size_t n;

    if (core_tokens_list(tokens, &list, &n, &err) != GW_OK)
        return fail("token list", &err);
    for (size_t i = 0; i < n; i++)
        printf("%s scope=%s credentials=%s from_domains=%s created=%s\n",
               list[i].name, store_scope_name(list[i].scope),
               list[i].credentials[0] ? list[i].credentials : "*",
               list[i].from_domains[0] ? list[i].from_domains : "*",
               list[i].created);
    free(list);
    return 0;
}

static int cmd_token(const struct opts *o, const struct srv_config *cfg,
                     const struct core_key_paths *paths)
{
    const char *sub = o->n_args > 0 ? o->args[0] : "";
    struct gw_error err = {0};
    struct core_tokens *tokens;
    struct store *records;
    enum core_key_source source;
    struct vault *v;
    int rc;

    if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 &&
        strcmp(sub, "delete") != 0)
        return usage("token %s: use token create, list or delete", sub);
    if (strcmp(sub, "delete") == 0 && o->n_args != 2)
        return usage("%s: token delete NAME", "token delete");
    if (!make_dir(cfg))
        return 1;
    /* The hashes are keyed with a key that only the key pair opens; on a
       first use the key pair is made, as the gateway's first start does. */
    records = srv_store_open(paths, &err);
    v = records != NULL ? srv_key_load(cfg, paths, records, true, &source, &err)
                        : NULL;
    tokens = v != NULL ? core_tokens_open(records, v, NULL, &err) : NULL;
    if (tokens == NULL) {
        store_close(records);
        vault_free(v);
        return fail("token", &err);
    }
    if (strcmp(sub, "create") == 0)
        rc = token_create(o, tokens);
    else if (strcmp(sub, "list") == 0)
        rc = token_list(tokens);
    else if (core_tokens_delete(tokens, o->args[1], &err) != GW_OK)
        rc = fail("token delete", &err);
    else
        rc = 0;
    core_tokens_free(tokens);
    store_close(records);
    vault_free(v);
    return rc;
}

static int cmd_rekey(const struct opts *o, const struct srv_config *cfg,
                     const struct core_key_paths *paths)
{
    struct core_rekey r = {
        .old_key_file = cfg->secret_key_file,
        .new_key_file = o->new_key_file,
    };
    struct gw_error err = {0};
    struct vault *old, *next = NULL;
    size_t n = 0;

    if (o->n_args > 0)
        return usage("%s: rekey takes no argument", o->args[0]);
    r.records = srv_store_open(paths, &err);
    old = r.records != NULL
              ? srv_key_load(cfg, paths, r.records, false, &r.source, &err)
              : NULL;
    if (old == NULL) {
        store_close(r.records);
        return fail("rekey", &err);
    }
    if (r.source != CORE_KEY_DATA_DIR && o->new_key_file == NULL) {
        store_close(r.records);
        vault_free(old);
        return usage("the key comes from %s: rekey --new-key-file PATH writes "
                     "the new one there",
                     srv_key_source_name(r.source));
    }
    r.old = old;
    next = core_keys_rekey(&r, paths, &n, &err);
    store_close(r.records);
    vault_free(old);
    if (next == NULL)
        return fail("rekey", &err);
    if (r.source != CORE_KEY_DATA_DIR)
        fprintf(stderr,
                "smtp-gateway: the new secret key is in %s: give it to the "
                "gateway (GATEWAY_SECRET_KEY_FILE) and restart it\n",
                o->new_key_file);
    printf("{\"key_id\":\"%s\",\"public_key\":\"%s\",\"resealed\":%zu}\n",
           vault_key_id(next), vault_public_key(next), n);
    fprintf(stderr,
            "smtp-gateway: %zu stored secrets re-sealed; restart "
            "the gateway, and seal again any secret kept "
            "elsewhere (GATEWAY_SMTP_*_SEALED)\n",
            n);
    vault_free(next);
    return 0;
}

static int dispatch(const struct opts *o, const struct srv_config *cfg,
                    const struct core_key_paths *paths)
{
    switch (o->cmd) {
    case C_KEYGEN:
        return cmd_keygen(o, cfg, paths);
    case C_SEAL:
        return cmd_seal(o, cfg, paths);
    case C_TOKEN:
        return cmd_token(o, cfg, paths);
    default:
        return cmd_rekey(o, cfg, paths);
    }
}

int srv_cli_run(int argc, char **argv)
{
    struct srv_config *cfg = calloc(1, sizeof(*cfg));
    struct opts o = {0};
    struct core_key_paths paths;
    struct gw_error err = {0};
    int rc = 2;

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, argv[0]) == 0)
            o.cmd = commands[i].cmd;
    }
    if (cfg == NULL || !vault_init())
        rc = 1;
    else if (parse(&o, argc, argv) && load_config(&o, cfg)) {
        if (srv_paths_of(cfg, &paths, &err) == GW_OK)
            rc = dispatch(&o, cfg, &paths);
        else
            rc = usage("%s", err.detail);
    }
    if (cfg != NULL)
        srv_config_wipe(cfg);
    free(cfg);
    return rc;
}
