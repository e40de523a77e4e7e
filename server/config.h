/*
 * The gateway's configuration: every setting from its flag or, failing
 * that, its environment variable, or its default, checked before the
 * server listens. Secrets (the API token, the SMTP password, the secret
 * key) come only from the environment or a file: a command line is
 * visible to every local user.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "store/store.h"
#include "base/base.h"

struct srv_config {
    char listen[256];                  /* "host:port" as given */
    struct sockaddr_storage listen_sa; /* the address to listen on */
    char data_dir[4096];               /* created at start-up, mode 0700 */
    enum log_level log_level;
    size_t max_body;     /* largest request body, in bytes */
    char api_token[256]; /* the bootstrap bearer token */

    /* The HTTP side: how many connections, how long a stop may take. */
    unsigned max_connections;        /* open at once, each with a thread */
    unsigned max_connections_per_ip; /* ... of them from one client; 0: a
                                        quarter of max_connections */
    unsigned shutdown_timeout_s;     /* seconds, from SIGTERM or SIGINT */
    unsigned header_timeout_s;       /* for a request head to come whole */

    /* The key pair (else the one in data_dir) and the credential store. */
    char secret_key[128];        /* base64; "" for none */
    char secret_key_file[4096];  /* holds it; "" for none */
    char credentials_file[4096]; /* "" for data_dir/credentials.json */

    /* The `default` credential: every setting of the record (its name
       "default", no secrets), from --smtp-<key> and GATEWAY_SMTP_<KEY>. */
    struct store_credential smtp;

    /* ... and its secrets, from the environment only. */
    char smtp_password[256];
    char smtp_access_token[4096];             /* for XOAUTH2 */
    char smtp_password_sealed[STORE_BOX_MAX]; /* sealed boxes, base64 */
    char smtp_access_token_sealed[STORE_BOX_MAX];
};

/*
 * Reads the settings from `argv` (options after the sub-command) and
 * `environ` into `cfg`. Returns false with `err` (GW_EINVAL) naming the
 * setting ("GATEWAY_SMTP_PORT: must be a number from 1 to 65535") when a
 * value is invalid or a required one is missing.
 */
bool srv_config_load(struct srv_config *cfg, int argc, char **argv,
                     struct gw_error *err);

/*
 * Parses a listen address, "host:port" with an IPv4 or IPv6 address
 * ("[::1]:8080"), into `sa`. GW_EINVAL with the reason in `err`.
 */
enum gw_err srv_listen_parse(const char *value, struct sockaddr_storage *sa,
                             struct gw_error *err);

/* Prints the flags, their variables and defaults, for --help. */
void srv_config_usage(FILE *out);

/*
 * The `default` credential of the GATEWAY_SMTP_* settings, with its
 * sealed secrets (GATEWAY_SMTP_*_SEALED) but without those given in the
 * clear, which the caller seals. Its secrets count only with a username.
 */
void srv_config_credential(const struct srv_config *cfg,
                           struct store_credential *out);

/*
 * Overwrites, then removes, the environment variables of the secret
 * settings, so that the process's memory keeps no copy of them once
 * srv_config_load() has taken them.
 */
void srv_config_scrub_environ(void);

/* Overwrites the secrets held in `cfg`. */
void srv_config_wipe(struct srv_config *cfg);

#endif
