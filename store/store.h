/*
 * Persistence: the state files of the data directory, written atomically
 * and locked, and the records kept in them (credentials with sealed
 * secrets, API tokens by their hash) with their file formats.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "base/base.h"

/*
 * The gateway's state files (its key pair, the credential store, the API
 * tokens): read whole within a limit, replaced atomically, and changed
 * under a lock, so that a crash, a full disk or two writers at once (the
 * server and a sub-command) never leave a half-written or lost file.
 */
/*
 * Reads the whole of `path` into `out`, whose limit bounds the size
 * (GW_ELIMIT past it). GW_ENOTFOUND when the file does not exist; other
 * failures are GW_EIO naming the file and the reason.
 */
enum gw_err store_file_read(const char *path, struct buf *out,
                            struct gw_error *err);

/*
 * Replaces `path` with `len` bytes of `data`: a temporary file in the
 * same directory, created with `mode`, written, flushed to disk with
 * fsync, renamed over `path`, and the directory synced, so that readers
 * see the old file or the new one and nothing in between. GW_EIO naming
 * the file and the reason (a read-only file system, say).
 */
enum gw_err store_file_write(const char *path, const void *data, size_t len,
                             mode_t mode, struct gw_error *err);

/*
 * Takes an exclusive lock for changing `path`, on "<path>.lock", waiting
 * for other holders (another process included). Returns the descriptor
 * to pass to store_file_unlock(), or -1 with `err` set.
 */
int store_file_lock(const char *path, struct gw_error *err);
void store_file_unlock(int fd);

/* The identity of a file's current version, to notice a replacement. */
struct store_file_stamp {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* Fills `out` for `path` (exists false when there is none). */
void store_file_stamp(const char *path, struct store_file_stamp *out);

/* True when the two stamps name the same version of the file. */
bool store_file_same(const struct store_file_stamp *a,
                     const struct store_file_stamp *b);

/*
 * Creates the directory `path` and its parents, each for the gateway
 * alone (mode 0700). False with `err` set (one line) when it cannot.
 */
bool store_file_mkdirs(const char *path, struct gw_error *err);

/*
 * Checks that the directory `dir`, and every entry in it (the target of a
 * symbolic link too), belongs to the gateway's user and is not writable
 * by group or others: whoever may write there could put in a key of
 * their own or a token file with a token of theirs. False with `err`
 * set (one line) naming the first that is not.
 */
bool store_file_check_private(const char *dir, struct gw_error *err);

/* The same check for one file (true when it does not exist). */
bool store_file_private(const char *path, struct gw_error *err);

/* Joins `dir` and `name` into `out`; false when it does not fit. */
bool store_file_join(char *out, size_t size, const char *dir, const char *name);

/*
 * Where the records are kept: one struct store, behind which a back-end
 * does the keeping, in the way of OpenSMTPD's queue_backend.c. The rest
 * of the gateway calls only the store_*() functions below; a back-end
 * fills a struct store_backend (internal.h) with its own operations.
 * Today's back-end keeps each kind of record in a JSON file of the data
 * directory, written atomically (store_open_files()); a database keeps
 * them in tables behind the same operations.
 *
 * A change of a kind of record is one transaction: store_lock(), then
 * (if store_changed() says another writer came first) load again, then
 * save, then store_unlock(). Each struct store remembers the version of
 * each kind it last loaded or saved, which store_changed() compares with
 * the stored one: another process (the command line, say) may change the
 * records in between.
 */
enum store_kind {
    STORE_CREDENTIALS,
    STORE_TOKENS,
};

struct store;

/*
 * A store of files: the credentials in `creds_path`, the tokens in
 * `tokens_path` (each replaced atomically, mode 0600, changed under a
 * lock file beside it). NULL with `err` set when out of memory.
 */
struct store *store_open_files(const char *creds_path, const char *tokens_path,
                               struct gw_error *err);

/* Closes the store; no call may be under way. NULL does nothing. */
void store_close(struct store *st);

/* Where the records of `kind` are, for messages: a path, say. */
const char *store_where(const struct store *st, enum store_kind kind);

/*
 * Takes the exclusive right to change the records of `kind`, waiting
 * for other holders (in another process too). GW_OK, or the error.
 */
enum gw_err store_lock(struct store *st, enum store_kind kind,
                       struct gw_error *err);
void store_unlock(struct store *st, enum store_kind kind);

/* True when the records of `kind` are not the version this store last
   loaded or saved (or it never did). */
bool store_changed(struct store *st, enum store_kind kind);

/* Makes the next store_changed() true: what was last loaded of `kind`
   was not taken, or its saving failed half-way. */
void store_forget(struct store *st, enum store_kind kind);

/*
 * GW_OK when the records of `kind` can be changed; GW_ECONFLICT saying
 * why not otherwise (a read-only file or directory, say).
 */
enum gw_err store_writable(struct store *st, enum store_kind kind,
                           struct gw_error *err);

/*
 * The records the gateway keeps: named credentials (every setting of an
 * upstream, the secrets only as sealed boxes) and API tokens (only a hash
 * of each), as plain C structs, and the JSON of their files, of the admin
 * routes' bodies and of their replies.
 *
 * The functions that take or give JSON name jansson's type only as
 * `struct json_t`, so that this header does not bring jansson to the
 * modules that never see JSON; api/ includes <jansson.h> itself.
 */
struct json_t;

/* The longest name of a credential or a token. */
#define STORE_NAME_MAX 64

/* Room for a sealed box in base64 (core/core.h: VAULT_BOX_MAX). */
#define STORE_BOX_MAX 5600

/* The longest secret accepted in the clear (core/core.h agrees). */
#define STORE_SECRET_MAX 4096

/* Room for a comma-separated list of names or domains. */
#define STORE_LIST_MAX 1024

/* The most credentials, and the most tokens, the gateway keeps. */
#define STORE_RECORDS_MAX 1000

/* The largest credential or token file. */
#define STORE_FILE_MAX (16 * 1024 * 1024)

/* How a credential's connection uses TLS. */
enum store_tls {
    STORE_TLS_NONE,     /* plain text throughout */
    STORE_TLS_STARTTLS, /* plain text, then STARTTLS before anything else */
    STORE_TLS_IMPLICIT, /* TLS from the first byte (port 465) */
};

/* One named credential: an upstream, and how to reach it as whom. */
struct store_credential {
    char name[STORE_NAME_MAX + 1];
    char host[256];
    unsigned port;
    unsigned ip_version; /* 0, 4 or 6 */
    enum store_tls tls;
    char ca_file[4096]; /* "" for the system bundle */
    bool verify_peer;
    bool check_server_identity;
    char client_cert[4096]; /* "" for none */
    char client_key[4096];  /* "" for the key in client_cert */
    char helo_name[256];    /* "" for the machine's host name */
    char username[256];     /* "" for no AUTH */
    char mechanisms[128];   /* ordered, comma-separated */
    char auth_from[256];    /* "" for none */
    bool allow_plaintext_auth;
    bool ignore_failed_auth;
    unsigned timeout_s; /* each step, and the wait for a connection */
    unsigned connect_timeout_s, greeting_timeout_s, command_timeout_s,
        data_timeout_s, dot_timeout_s; /* 0: timeout_s */
    unsigned pool;                     /* most connections at once */
    unsigned waiting;                  /* most sends waiting for one of
                                          them; 0: 4 times pool */
    unsigned idle_timeout_s;           /* a connection kept for the next
                                          send; 0: a new one for every send */
    unsigned deadline_s;               /* a whole send, the wait for a
                                          connection included; 0: twice the
                                          longest step timeout */
    char password_box[STORE_BOX_MAX];  /* sealed, base64; "" for none */
    char access_token_box[STORE_BOX_MAX];
};

/*
 * The settings of a credential (all of struct store_credential but its
 * name and its secrets), one entry each, in the order they are shown.
 * This one table is the schema of the record: the JSON keys of the file,
 * of a PUT and of a GET; the --smtp-<key> flags and GATEWAY_SMTP_<KEY>
 * variables of the `default` credential (the key with '-' for '_', or in
 * capitals); each default, in the text form; the checks; and the help.
 */
enum store_setting_flags {
    STORE_SECONDS = 1 << 0, /* a number of seconds */
    STORE_INHERIT = 1 << 1, /* 0 means a value that follows from another
                               setting (the help says which), written ""
                               as text */
    STORE_FILE = 1 << 2,    /* a path the gateway must be able to read */
};

struct store_setting {
    const char *key;  /* "connect_timeout" */
    const char *def;  /* the default as text ("30", "true", "") */
    const char *help; /* one line for --help */
    unsigned flags;   /* enum store_setting_flags */
};

/*
 * The `i`-th setting, counting from 0, or NULL past the last:
 *     for (size_t i = 0; (s = store_credential_setting(i)) != NULL; i++)
 */
const struct store_setting *store_credential_setting(size_t i);

/*
 * Sets the setting `s` of `c` from its text form (a flag's or a
 * variable's value, or the default): numbers in decimal, booleans as
 * true/false, 1/0, yes/no or on/off, "" for no value. False with `fe`
 * set (its field the setting's key) when the text is not valid for it.
 */
bool store_credential_set(struct store_credential *c,
                          const struct store_setting *s, const char *text,
                          struct gw_field_error *fe);

/* Fills `c` with the default of every setting, named `name`. */
void store_credential_defaults(struct store_credential *c, const char *name);

/* "none", "starttls" or "implicit". */
const char *store_tls_name(enum store_tls tls);

/*
 * Checks an ordered, comma-separated list of the SASL mechanisms a
 * credential may use: CRAM-MD5, XOAUTH2, LOGIN and PLAIN, in any letter
 * case. GW_EINVAL naming the first one that is not.
 */
enum gw_err store_mechanisms_check(const char *list, struct gw_error *err);

/*
 * True when `name` may name a credential or a token: 1 to STORE_NAME_MAX
 * letters, digits, '.', '_' or '-', not starting with '.' or '-'.
 */
bool store_name_valid(const char *name);

/* Secrets given in the clear in a PUT, borrowed from its JSON. */
struct store_plain_secrets {
    const char *password;
    const char *access_token;
};

/*
 * Reads a credential named `name` from the JSON object `obj`: defaults,
 * then every key. `plain` NULL (the file) accepts secrets only sealed
 * ("password_sealed", "access_token_sealed"); otherwise (a PUT) they may
 * also come in the clear ("password", "access_token"), into `plain`.
 * False with `fe` naming the field.
 */
bool store_credential_from_json(struct json_t *obj, const char *name,
                                struct store_credential *c,
                                struct store_plain_secrets *plain,
                                struct gw_field_error *fe);

/*
 * The settings of `c` as a new JSON object, with its boxes (for the file)
 * or with only whether each secret is set (for a reply). NULL when out of
 * memory.
 */
struct json_t *store_credential_to_json(const struct store_credential *c,
                                        bool with_boxes);

/*
 * The credential file: {"version":1,"key_id":"...","credentials":
 * {"<name>":{settings, "password_sealed":..., ...}, ...}}. Decoding
 * returns the key id the boxes were sealed for (VAULT_KEY_ID_LEN + 1
 * bytes of `key_id`, "" when absent) and an array the caller frees with
 * free(); every entry is checked as a PUT is. GW_EINVAL with a detail
 * naming the entry and the field.
 */
enum gw_err store_creds_decode(const char *text, size_t len, char *key_id,
                               size_t key_id_size,
                               struct store_credential **out, size_t *n,
                               struct gw_error *err);
enum gw_err store_creds_encode(const char *key_id,
                               const struct store_credential *const *creds,
                               size_t n, struct buf *out, struct gw_error *err);

/*
 * The stored credentials, as store_creds_decode() gives them (an array
 * the caller frees with free(), and the key id they are sealed for), or
 * none when there are none yet. Errors name store_where().
 */
enum gw_err store_creds_load(struct store *st, char *key_id, size_t key_id_size,
                             struct store_credential **out, size_t *n,
                             struct gw_error *err);

/* Replaces the stored credentials with `creds`, sealed for `key_id`. */
enum gw_err store_creds_save(struct store *st, const char *key_id,
                             const struct store_credential *const *creds,
                             size_t n, struct gw_error *err);

enum store_scope {
    STORE_SCOPE_SEND,  /* may send through its credentials */
    STORE_SCOPE_ADMIN, /* may do anything, the admin routes included */
};

/* "send" or "admin". */
const char *store_scope_name(enum store_scope scope);

/* One API token, by its hash; also who a request comes from. */
struct store_token {
    char name[STORE_NAME_MAX + 1];
    enum store_scope scope;
    char credentials[STORE_LIST_MAX];  /* comma-separated; "" for all */
    char from_domains[STORE_LIST_MAX]; /* comma-separated; "" for any */
    char hash[65];                     /* hex; "" in a request's caller */
    char created[32];                  /* RFC 3339, UTC */
};

/*
 * True when `list` (comma-separated, as in struct store_token) is empty
 * or holds `item`; `nocase` compares without letter case (domains).
 */
bool store_list_allows(const char *list, const char *item, bool nocase);

/*
 * Checks a comma-separated list given on the command line: names of
 * credentials (`domains` false) or domains. GW_EINVAL naming the bad item.
 */
enum gw_err store_list_check(const char *list, bool domains,
                             struct gw_error *err);

/*
 * Reads the settings of a token (name, scope, credentials, from_domains;
 * not its hash) from the JSON object `obj`, a POST /v1/tokens body or an
 * entry of the token file. False with `fe` naming the field.
 */
bool store_token_from_json(struct json_t *obj, struct store_token *t,
                           struct gw_field_error *fe);

/* What every view of a token shows, as a new JSON object: never its
   hash. NULL when out of memory. */
struct json_t *store_token_to_json(const struct store_token *t);

/*
 * The token file: {"version":1,"tokens":[{"name","scope","credentials",
 * "from_domains","hash","created"}, ...]}. Decoding allocates an array
 * the caller frees with free().
 */
enum gw_err store_tokens_decode(const char *text, size_t len,
                                struct store_token **out, size_t *n,
                                struct gw_error *err);
enum gw_err store_tokens_encode(const struct store_token *tokens, size_t n,
                                struct buf *out, struct gw_error *err);

/*
 * How the hashes of a token file are keyed. Version 1 (as above): with a
 * constant. Version 2 adds "key_id" and "hash_key", the key of the
 * hashes wrapped with the gateway's key pair of that id:
 * {"version":2,"key_id","hash_key","tokens":[...]}.
 */
struct store_tokens_keying {
    int version;        /* 1 or 2 */
    char key_id[17];    /* version 2: hex */
    char hash_key[100]; /* version 2: base64 */
};

/* Reads the keying of the token file `text`; GW_EINVAL when it is bad. */
enum gw_err store_tokens_keying_decode(const char *text, size_t len,
                                       struct store_tokens_keying *out,
                                       struct gw_error *err);

/* Writes a token file of version 2 with the keying `k`. */
enum gw_err store_tokens_encode_keyed(const struct store_token *tokens,
                                      size_t n,
                                      const struct store_tokens_keying *k,
                                      struct buf *out, struct gw_error *err);

/*
 * The stored tokens with their keying (an array the caller frees with
 * free()); none yet is an empty array and a keying of version 0. The
 * records must be private to the gateway's user (GW_EINVAL otherwise):
 * whoever could write them could add a token of their own.
 */
enum gw_err store_tokens_load(struct store *st,
                              struct store_tokens_keying *keying,
                              struct store_token **out, size_t *n,
                              struct gw_error *err);

/* Replaces the stored tokens with `v`, keyed as `keying` (version 2). */
enum gw_err store_tokens_save(struct store *st,
                              const struct store_tokens_keying *keying,
                              const struct store_token *v, size_t n,
                              struct gw_error *err);

/*
 * Reads {"key_id","public_key"} (GET /v1/public-key) into the two
 * buffers. GW_EINVAL when the text is not such a document.
 */
enum gw_err store_public_key_decode(const char *text, size_t len, char *key_id,
                                    size_t key_id_size, char *public_key,
                                    size_t public_key_size,
                                    struct gw_error *err);

#endif
