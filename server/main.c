/*
 * smtp-gateway: the process. Runs a sub-command (cli.h), or parses the
 * configuration, opens the key pair, credentials and tokens (gateway.h),
 * serves HTTP until SIGTERM or SIGINT, then lets the requests in progress
 * finish, within GATEWAY_SHUTDOWN_TIMEOUT, and exits.
 *
 * Exit codes: 0 after a clean stop, 1 when the server fails at run time,
 * 2 for invalid configuration or usage (one line on stderr naming it), 3
 * when requests were still running at GATEWAY_SHUTDOWN_TIMEOUT (each send
 * cut off is logged with its Message-ID).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "base/base.h"
#include "smtp/smtp.h"
#include "cli.h"
#include "config.h"
#include "store/store.h"
#include "gateway.h"
#include "http.h"

/* Descriptors kept beside GATEWAY_MAX_CONNECTIONS: the 64 connections
   past it that get a 503 (http.c), the upstream connections, the state
   files, the log. */
#define FD_RESERVE 256

/* The exit status of a stop that cut requests off. */
#define EXIT_CUT_OFF 3

static int usage_error(const char *line)
{
    fprintf(stderr, "smtp-gateway: %s\n", line);
    return 2;
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

/*
 * Raises the soft limit of open descriptors to the hard one, and lowers
 * GATEWAY_MAX_CONNECTIONS when even that leaves too few: a connection
 * refused for want of a descriptor is worse than one refused at the limit.
 */
static void fit_connections(struct srv_config *cfg)
{
    struct rlimit lim;
    unsigned most;

    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur == RLIM_INFINITY ||
        lim.rlim_cur >= (rlim_t)cfg->max_connections + FD_RESERVE)
        return;
    most = lim.rlim_cur > 2 * FD_RESERVE ? (unsigned)lim.rlim_cur - FD_RESERVE
                                         : (unsigned)lim.rlim_cur / 2;
    log_warn("event=max_connections_lowered from=%u to=%u open_files=%llu",
             cfg->max_connections, most, (unsigned long long)lim.rlim_cur);
    cfg->max_connections = most;
}

/*
 * Stops serving after the signal. Requests still running at the deadline
 * hold the gateway in their threads: nothing is freed, the sends among
 * them are logged, and the process ends at once with EXIT_CUT_OFF.
 */
static int stop_serving(struct srv_http *http, struct srv_gateway *gw,
                        const struct srv_config *cfg)
{
    unsigned running = srv_http_shutdown(http, cfg->shutdown_timeout_s * 1000);
    size_t sends;

    if (running > 0) {
        sends = core_log_running_sends();
        log_warn("event=stopped_with_requests_running requests=%u sends=%zu "
                 "timeout_s=%u",
                 running, sends, cfg->shutdown_timeout_s);
        _exit(EXIT_CUT_OFF);
    }
    srv_gateway_free(gw);
    log_info("event=stopped");
    return 0;
}

static int serve(struct srv_config *cfg)
{
    struct gw_error err = {0};
    struct srv_gateway *gw;
    struct srv_http *http;
    struct api_ctx ctx;
    sigset_t stop;
    int sig = 0;
    /* Measured first: opening the gateway wipes the token from cfg. */
    size_t token_len = strlen(cfg->api_token);

    gw = srv_gateway_open(cfg, &err);
    if (gw == NULL) {
        fprintf(stderr, "smtp-gateway: %s\n", err.detail);
        return 2;
    }
    srv_gateway_ctx(gw, &ctx);
    ctx.spool_dir = cfg->data_dir;
    fit_connections(cfg);
    block_stop_signals(&stop);
    http = srv_http_start(cfg, &ctx, &err);
    if (http == NULL) {
        log_error("event=start_failed detail=\"%s\"", err.detail);
        srv_gateway_free(gw);
        return 1;
    }
    if (token_len < 16)
        log_warn("event=weak_token detail=\"GATEWAY_API_TOKEN is shorter "
                 "than 16 characters; use a long random one, such as "
                 "sgw_ and 32 hex digits\"");
    log_info("event=listening address=%.*s:%u version=%s",
             (int)(strrchr(cfg->listen, ':') - cfg->listen), cfg->listen,
             srv_http_port(http), GW_VERSION);
    sigwait(&stop, &sig);
    log_info("event=stopping signal=%s timeout_s=%u",
             sig == SIGINT ? "SIGINT" : "SIGTERM", cfg->shutdown_timeout_s);
    return stop_serving(http, gw, cfg);
}

/* Memory holds secrets: no core dump, no ptrace by other users. */
static void harden(void)
{
    struct rlimit none = {0, 0};

    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    setrlimit(RLIMIT_CORE, &none);
}

int main(int argc, char **argv)
{
    struct srv_config cfg;
    struct gw_error err = {0};
    int rc;

    harden();
    api_init();
    argc--;
    argv++;
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
    if (argc > 0 && srv_cli_has(argv[0]))
        return srv_cli_run(argc, argv);
    if (argc > 0 && strcmp(argv[0], "serve") == 0) {
        argc--;
        argv++;
    } else if (argc > 0 && argv[0][0] != '-') {
        gw_error_set(&err, GW_EINVAL, "%s: unknown command (see --help)",
                     argv[0]);
        return usage_error(err.detail);
    }
    if (!srv_config_load(&cfg, argc, argv, &err))
        return usage_error(err.detail);
    srv_config_scrub_environ();
    log_set_level(cfg.log_level);
    if (!store_file_mkdirs(cfg.data_dir, &err)) {
        fprintf(stderr, "smtp-gateway: GATEWAY_DATA_DIR: %s\n", err.detail);
        return 2;
    }
    rc = serve(&cfg);
    srv_config_wipe(&cfg);
    return rc;
}
