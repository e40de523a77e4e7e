/*
 * `smtp-gateway healthcheck`: a tiny HTTP/1.1 client for container health
 * checks, so that an image needs no curl. It asks the gateway's own
 * GET /healthz and tells by its exit code whether the gateway answered.
 */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

/*
 * Runs the sub-command with the arguments after "healthcheck": only
 * `--listen host:port` (or GATEWAY_LISTEN, or the default 127.0.0.1:8080).
 * A wildcard address (0.0.0.0, ::) is reached through loopback. Returns
 * the exit code: 0 when the gateway answered 200 {"status":"ok"} within
 * SRV_HEALTH_TIMEOUT_MS, 1 when it did not (one line on stderr says why),
 * 2 for a usage error.
 */
int srv_healthcheck(int argc, char **argv);

/* How long the whole check may take, connecting included. */
#define SRV_HEALTH_TIMEOUT_MS 3000

#endif
