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

#endif
