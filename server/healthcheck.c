/* The healthcheck sub-command; see cli.h. */
#include "cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "net/net.h"

/* The reply is small; anything larger is not our gateway's /healthz. */
#define REPLY_MAX 4096

/*
 * The URL of the listen address `sa`, a wildcard address reached through
 * loopback. False when it does not fit `size`.
 */
static bool url_of(const struct sockaddr_storage *sa, char *url, size_t size)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
    char host[INET6_ADDRSTRLEN];
    int n;

    if (sa->ss_family == AF_INET) {
        struct in_addr a = v4->sin_addr;

        if (a.s_addr == htonl(INADDR_ANY))
            a.s_addr = htonl(INADDR_LOOPBACK);
        inet_ntop(AF_INET, &a, host, sizeof(host));
        n = snprintf(url, size, "http://%s:%u", host, ntohs(v4->sin_port));
    } else {
        struct in6_addr a = v6->sin6_addr;

        if (IN6_IS_ADDR_UNSPECIFIED(&a))
            a = in6addr_loopback;
        inet_ntop(AF_INET6, &a, host, sizeof(host));
        n = snprintf(url, size, "http://[%s]:%u", host, ntohs(v6->sin6_port));
    }
    return n > 0 && (size_t)n < size;
}

/* The body is {"status":"ok"}, trailing space allowed. */
static bool healthy(const struct buf *body)
{
    size_t n = body->len;

    while (n > 0 && (body->data[n - 1] == '\n' || body->data[n - 1] == '\r' ||
                     body->data[n - 1] == ' '))
        n--;
    return n == 15 && memcmp(body->data, "{\"status\":\"ok\"}", 15) == 0;
}

/* Asks `url` for /healthz; NULL when healthy, else why not. */
static const char *check(const char *url, struct buf *body,
                         struct gw_error *err)
{
    const struct net_http_get req = {
        .url = url,
        .path = "/healthz",
        .user_agent = "smtp-gateway-healthcheck",
        .timeout_ms = SRV_HEALTH_TIMEOUT_MS,
    };
    int status;

    if (net_http_get(&req, &status, body, err) != GW_OK)
        return err->detail;
    if (status != 200)
        return "the status is not 200";
    if (!healthy(body))
        return "the body is not {\"status\":\"ok\"}";
    return NULL;
}

int srv_healthcheck(int argc, char **argv)
{
    const char *listen = getenv("GATEWAY_LISTEN");
    struct gw_error err = {0};
    struct sockaddr_storage sa;
    const char *why;
    char url[128];
    struct buf body;

    if (argc == 2 && strcmp(argv[0], "--listen") == 0)
        listen = argv[1];
    else if (argc == 1 && strncmp(argv[0], "--listen=", 9) == 0)
        listen = argv[0] + 9;
    else if (argc != 0) {
        fprintf(stderr, "smtp-gateway: healthcheck takes only "
                        "--listen host:port\n");
        return 2;
    }
    if (listen == NULL || listen[0] == '\0')
        listen = "127.0.0.1:8080";
    if (srv_listen_parse(listen, &sa, &err) != GW_OK) {
        fprintf(stderr, "smtp-gateway: GATEWAY_LISTEN: %s\n", err.detail);
        return 2;
    }
    if (!url_of(&sa, url, sizeof(url))) {
        fprintf(stderr, "smtp-gateway: GATEWAY_LISTEN: too long\n");
        return 2;
    }
    buf_init(&body, REPLY_MAX);
    why = check(url, &body, &err);
    if (why != NULL)
        fprintf(stderr, "smtp-gateway: healthcheck %.200s: %s\n", listen, why);
    buf_free(&body);
    return why != NULL ? 1 : 0;
}
