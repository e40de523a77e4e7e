/*
 * The connections open from each client, for GATEWAY_MAX_CONNECTIONS_PER_IP:
 * one client is an IPv4 address, or an IPv6 /64 prefix (what one host or
 * one network is given; an attacker with a /64 has as many addresses as
 * it likes). A table of the clients with their counts, sized once for
 * every connection the server may hold, so it never grows and no add
 * fails. Safe for any thread.
 */
#ifndef GW_CLIENTS_H
#define GW_CLIENTS_H

#include <sys/socket.h>

struct srv_clients;

/* A table for at most `most` connections at once; NULL out of memory. */
struct srv_clients *srv_clients_new(unsigned most);
void srv_clients_free(struct srv_clients *c);

/* How many connections of the client of `sa` are open. */
unsigned srv_clients_count(struct srv_clients *c, const struct sockaddr *sa);

/* One more connection of the client of `sa`, and one fewer. An address
   that is neither IPv4 nor IPv6 is not counted. */
void srv_clients_add(struct srv_clients *c, const struct sockaddr *sa);
void srv_clients_remove(struct srv_clients *c, const struct sockaddr *sa);

#endif
