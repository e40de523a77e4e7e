/*
 * The connections of each client; see clients.h. Open addressing with
 * linear probing: a client's slot is found from the hash of its key, or
 * the first free slot after it; a client with no connection left is taken
 * out by moving the slots after it back (no tombstones), so a lookup
 * stops at the first free slot. The hash is keyed with a random seed, so
 * that no client can choose addresses that all fall on one run of slots.
 */
#include "clients.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* A client: an IPv4 address as ::ffff:a.b.c.d, or an IPv6 /64 prefix. */
struct key {
    uint8_t b[16];
};

struct slot {
    struct key key;
    unsigned count; /* 0: the slot is free */
};

struct srv_clients {
    pthread_mutex_t lock;
    uint64_t seed;
    size_t mask; /* slots - 1, a power of two less one */
    size_t used; /* slots with a count */
    struct slot *slots;
};

struct srv_clients *srv_clients_new(unsigned most)
{
    struct srv_clients *c = calloc(1, sizeof(*c));
    size_t n = 16;

    /* Twice the most clients there can be keeps every run short. */
    while (n < 2 * (size_t)most)
        n *= 2;
    if (c != NULL)
        c->slots = calloc(n, sizeof(*c->slots));
    if (c == NULL || c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed))
        c->seed = (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15u;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void srv_clients_free(struct srv_clients *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c);
}

/* The client of `sa` into `k`; false for an address of another family. */
static bool key_of(const struct sockaddr *sa, struct key *k)
{
    memset(k, 0, sizeof(*k));
    if (sa->sa_family == AF_INET) {
        k->b[10] = 0xff;
        k->b[11] = 0xff;
        memcpy(&k->b[12], &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    memcpy(k->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    /* An IPv4 client reaching an IPv6 socket is its IPv4 address. */
    if (!IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)k->b))
        memset(&k->b[8], 0, 8);
    return true;
}

/* FNV-1a over the key, started from the seed. */
static size_t hash(const struct srv_clients *c, const struct key *k)
{
    uint64_t h = 0xcbf29ce484222325u ^ c->seed;

    for (size_t i = 0; i < sizeof(k->b); i++)
        h = (h ^ k->b[i]) * 0x100000001b3u;
    return (size_t)(h ^ (h >> 32)) & c->mask;
}

/* The slot of `k`, or the free slot where it would go. */
static size_t find(const struct srv_clients *c, const struct key *k)
{
    size_t i = hash(c, k);

    while (c->slots[i].count > 0 &&
           memcmp(&c->slots[i].key, k, sizeof(*k)) != 0)
        i = (i + 1) & c->mask;
    return i;
}

/* Frees slot `i`, moving back each slot after it that would otherwise be
   found past a free slot. */
static void take_out(struct srv_clients *c, size_t i)
{
    size_t j = i;

    c->slots[i].count = 0;
    c->used--;
    for (;;) {
        size_t home;

        j = (j + 1) & c->mask;
        if (c->slots[j].count == 0)
            return;
        home = hash(c, &c->slots[j].key);
        /* The slot at j may move to i when its home is not in (i, j]. */
        if (i <= j ? home > i && home <= j : home > i || home <= j)
            continue;
        c->slots[i] = c->slots[j];
        c->slots[j].count = 0;
        i = j;
    }
}

/*
 * Adds `delta` (+1, -1 or 0) to the count of the client of `sa`, and
 * returns the count that results. A new client of a table with one free
 * slot left (more clients than it was made for) goes uncounted: a lookup
 * needs a free slot to stop at.
 */
static unsigned change(struct srv_clients *c, const struct sockaddr *sa,
                       int delta)
{
    struct key k;
    struct slot *s;
    unsigned n;

    if (!key_of(sa, &k))
        return 0;
    pthread_mutex_lock(&c->lock);
    s = &c->slots[find(c, &k)];
    n = s->count;
    if (delta > 0 && (n > 0 || c->used < c->mask)) {
        if (n == 0) {
            s->key = k;
            c->used++;
        }
        s->count = ++n;
    } else if (delta < 0 && n > 1) {
        s->count = --n;
    } else if (delta < 0 && n == 1) {
        take_out(c, (size_t)(s - c->slots));
        n = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

unsigned srv_clients_count(struct srv_clients *c, const struct sockaddr *sa)
{
    return change(c, sa, 0);
}

void srv_clients_add(struct srv_clients *c, const struct sockaddr *sa)
{
    change(c, sa, 1);
}

void srv_clients_remove(struct srv_clients *c, const struct sockaddr *sa)
{
    change(c, sa, -1);
}
