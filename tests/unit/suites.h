/*
 * The list of unit-test suites: the harness's own first, then one per
 * module. A new suite named X is defined in test_X.c as
 * `const struct unit_test X_tests[]` and added here.
 */
#ifndef GW_TEST_SUITES_H
#define GW_TEST_SUITES_H

#include "check.h"

#define UNIT_SUITES                                                            \
    SUITE(check)                                                               \
    SUITE(buf)                                                                 \
    SUITE(err)                                                                 \
    SUITE(utf8)                                                                \
    SUITE(log)                                                                 \
    SUITE(reply)                                                               \
    SUITE(data)                                                                \
    SUITE(config)                                                              \
    SUITE(clients)                                                             \
    SUITE(deadlines)                                                           \
    SUITE(encode)                                                              \
    SUITE(addr)                                                                \
    SUITE(mime)                                                                \
    SUITE(sasl)                                                                \
    SUITE(rawmsg)                                                              \
    SUITE(spool)                                                               \
    SUITE(vault)                                                               \
    SUITE(records)                                                             \
    SUITE(store)                                                               \
    SUITE(request)                                                             \
    SUITE(scope)                                                               \
    SUITE(pool)                                                                \
    SUITE(session)                                                             \
    SUITE(smtp)

#define SUITE(name) extern const struct unit_test name##_tests[];
UNIT_SUITES
#undef SUITE

#endif
