/*
 * The sub-commands beside `serve`, for operators and CI jobs:
 *
 *   keygen [--force]               make the key pair, print its public key
 *   seal [--public-key K | --url U] < secret     print the sealed box
 *   token create NAME --scope send|admin [--credentials a,b]
 *                [--from-domains example.com]  print a new token, once
 *   token list | token delete NAME
 *   rekey [--new-key-file PATH]    new key pair, every stored box re-sealed
 *
 * Each takes --data-dir, --secret-key-file and --credentials-file (and
 * their GATEWAY_* variables) as serve does. Exit codes: 0 done, 1 failed,
 * 2 wrong usage.
 */
#ifndef GW_CLI_H
#define GW_CLI_H

#include <stdbool.h>

/* True when `name` is one of the sub-commands above. */
bool srv_cli_has(const char *name);

/* Runs the sub-command argv[0] with its arguments; the exit code. */
int srv_cli_run(int argc, char **argv);

/*
 * `smtp-gateway healthcheck`, for container health checks: asks the
 * gateway's own GET /healthz, with the arguments after "healthcheck":
 * only `--listen host:port` (or GATEWAY_LISTEN, or the default
 * 127.0.0.1:8080). A wildcard address (0.0.0.0, ::) is reached through
 * loopback. Returns the exit code: 0 when the gateway answered 200
 * {"status":"ok"} within SRV_HEALTH_TIMEOUT_MS, 1 when it did not (one
 * line on stderr says why), 2 for a usage error.
 */
int srv_healthcheck(int argc, char **argv);

/* How long the whole check may take, connecting included. */
#define SRV_HEALTH_TIMEOUT_MS 3000

#endif
