/* Unit tests of the connections counted per client (server/clients.c). */
#include "server/clients.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static struct sockaddr_in v4(const char *text)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};

    inet_pton(AF_INET, text, &sa.sin_addr);
    return sa;
}

static struct sockaddr_in6 v6(const char *text)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};

    inet_pton(AF_INET6, text, &sa.sin6_addr);
    return sa;
}

#define SA(x) ((const struct sockaddr *)&(x))

TEST(an_ipv4_address_or_an_ipv6_64_is_one_client)
{
    struct srv_clients *c = srv_clients_new(8);
    struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");
    struct sockaddr_in6 x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2::ffff");
    struct sockaddr_in6 z = v6("2001:db8:1:3::1"), m = v6("::ffff:192.0.2.1");

    CHECK(c != NULL);
    srv_clients_add(c, SA(a));
    srv_clients_add(c, SA(a));
    srv_clients_add(c, SA(x));
    CHECK(srv_clients_count(c, SA(a)) == 2 && srv_clients_count(c, SA(b)) == 0);
    /* The same /64, another /64, and IPv4 reaching an IPv6 socket. */
    CHECK(srv_clients_count(c, SA(y)) == 1 && srv_clients_count(c, SA(z)) == 0);
    CHECK(srv_clients_count(c, SA(m)) == 2);
    srv_clients_remove(c, SA(m));
    srv_clients_remove(c, SA(y));
    CHECK(srv_clients_count(c, SA(a)) == 1 && srv_clients_count(c, SA(x)) == 0);
    /* One fewer than none stays none. */
    srv_clients_remove(c, SA(b));
    CHECK(srv_clients_count(c, SA(b)) == 0);
out:
    srv_clients_free(c);
}

/* Many clients added and taken out in a shuffled order: every count stays
   what a plain array of counts says, whatever runs of slots form. */
TEST(counts_survive_every_order_of_removal)
{
    enum { N = 500, ROUNDS = 4 };
    struct srv_clients *c = srv_clients_new(N * ROUNDS);
    struct sockaddr_in sa[N];
    unsigned want[N] = {0}, order[N * ROUNDS];
    size_t n = 0;

    CHECK(c != NULL);
    srand(12345);
    /* Distinct addresses: an odd multiplier is one-to-one modulo 2^24. */
    for (size_t i = 0; i < N; i++) {
        sa[i] = (struct sockaddr_in){.sin_family = AF_INET};
        sa[i].sin_addr.s_addr =
            htonl(0x0a000000u | (((uint32_t)i * 40503u) & 0xffffffu));
    }
    for (size_t r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < N; i++) {
            if ((unsigned)rand() % 4 != 0) {
                srv_clients_add(c, SA(sa[i]));
                want[i]++;
                order[n++] = (unsigned)i;
            }
        }
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rand() % i;
        unsigned t = order[i - 1];

        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < n; k++) {
        srv_clients_remove(c, SA(sa[order[k]]));
        want[order[k]]--;
        if (k % 97 == 0) {
            for (size_t i = 0; i < N; i++)
                CHECK(srv_clients_count(c, SA(sa[i])) == want[i]);
        }
    }
    for (size_t i = 0; i < N; i++)
        CHECK(srv_clients_count(c, SA(sa[i])) == 0);
out:
    srv_clients_free(c);
}

const struct unit_test clients_tests[] = {
    UNIT(an_ipv4_address_or_an_ipv6_64_is_one_client),
    UNIT(counts_survive_every_order_of_removal),
    {NULL, NULL},
};
