/*
 * smtp-gateway: the process. Parses the sub-command and configuration,
 * builds the default credential's upstream pool, serves HTTP until SIGTERM
 * or SIGINT, then lets the sends in progress finish and exits 0.
 *
 * Exit codes: 0 after a clean stop, 1 when the server fails at run time,
 * 2 for invalid configuration or usage (one line on stderr naming it).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "../api/api.h"
#include "../smtp/log.h"
#include "../smtp/smtp.h"
#include "config.h"
#include "health.h"
#include "http.h"

/* How long in-flight sends may take to finish after SIGTERM. */
#define DRAIN_EXTRA_MS 5000

/* The credentials the API can name; only "default" for now. */
struct credentials {
    struct smtp_pool *default_pool;
};

static struct smtp_pool *find_pool(void *arg, const char *name)
{
    struct credentials *creds = arg;

    return strcmp(name, "default") == 0 ? creds->default_pool : NULL;
}

static int usage_error(const char *line)
{
    fprintf(stderr, "smtp-gateway: %s\n", line);
    return 2;
}

/* Creates the data directory (and its parents) for the gateway alone. */
static bool make_data_dir(const char *path, char *why, size_t whylen)
{
    char p[sizeof(((struct srv_config *)0)->data_dir)];
    size_t n = strlen(path);
    struct stat st;

    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            snprintf(why, whylen, "cannot create %.300s: %s", p,
                     strerror(errno));
            return false;
        }
        p[i] = path[i];
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%.300s is not a directory", path);
        return false;
    }
    return true;
}

/* Blocks the stop signals in every thread; main waits for them. */
static void block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int serve(struct srv_config *cfg)
{
    struct credentials creds = {NULL};
    struct api_ctx ctx = {find_pool, &creds};
    struct smtp_server smtp;
    struct gw_error err = {0};
    struct srv_http *http;
    sigset_t stop;
    int sig = 0;

    srv_config_smtp(cfg, &smtp);
    creds.default_pool = smtp_pool_new(&smtp, cfg->smtp_pool, &err);
    if (creds.default_pool == NULL)
        return fprintf(stderr,
                       "smtp-gateway: the default credential (GATEWAY_SMTP_*):"
                       " %s\n",
                       err.detail),
               2;
    /* The pool keeps its own copies of the secrets. */
    explicit_bzero(cfg->smtp_password, sizeof(cfg->smtp_password));
    explicit_bzero(cfg->smtp_access_token, sizeof(cfg->smtp_access_token));
    block_stop_signals(&stop);
    http = srv_http_start(cfg, &ctx, &err);
    if (http == NULL) {
        log_error("event=start_failed detail=\"%s\"", err.detail);
        smtp_pool_free(creds.default_pool);
        return 1;
    }
    if (strlen(cfg->api_token) < 16)
        log_warn("event=weak_token detail=\"GATEWAY_API_TOKEN is shorter "
                 "than 16 characters; use a long random one, such as "
                 "sgw_ and 32 hex digits\"");
    log_info("event=listening address=%.*s:%u version=%s",
             (int)(strrchr(cfg->listen, ':') - cfg->listen), cfg->listen,
             srv_http_port(http), GW_VERSION);
    sigwait(&stop, &sig);
    log_info("event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (!srv_http_shutdown(http, cfg->smtp_timeout_s * 1000 + DRAIN_EXTRA_MS))
        log_warn("event=stopped_with_requests_running");
    smtp_pool_free(creds.default_pool);
    log_info("event=stopped");
    return 0;
}

int main(int argc, char **argv)
{
    struct srv_config cfg;
    char line[512];
    int rc;

    /* No core dump or ptrace by other users: memory holds secrets. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    argc--, argv++;
    if (argc > 0 &&
        (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
         strcmp(argv[0], "help") == 0)) {
        srv_config_usage(stdout);
        return 0;
    }
    if (argc > 0 && strcmp(argv[0], "--version") == 0) {
        printf("smtp-gateway %s\n", GW_VERSION);
        return 0;
    }
    if (argc > 0 && strcmp(argv[0], "healthcheck") == 0)
        return srv_healthcheck(argc - 1, argv + 1);
    if (argc > 0 && strcmp(argv[0], "serve") == 0)
        argc--, argv++;
    else if (argc > 0 && argv[0][0] != '-')
        return snprintf(line, sizeof(line), "%s: unknown command (see --help)",
                        argv[0]),
               usage_error(line);
    if (!srv_config_load(&cfg, argc, argv, line, sizeof(line)))
        return usage_error(line);
    log_set_level(cfg.log_level);
    if (!make_data_dir(cfg.data_dir, line, sizeof(line)))
        return fprintf(stderr, "smtp-gateway: GATEWAY_DATA_DIR: %s\n", line), 2;
    rc = serve(&cfg);
    srv_config_wipe(&cfg);
    return rc;
}
