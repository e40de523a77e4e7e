/* Unit tests of the query of a raw send, read by the checks of the JSON
   request (api/request.c). */
#include "api/request.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* One query parameter; `value_len` counts a NUL the value may hold. */
static struct api_param param(const char *key, const char *value,
                              size_t value_len)
{
    struct api_param p = {key, value, strlen(key), value_len};

    if (p.value_len == 0)
        p.value_len = strlen(value);
    return p;
}

TEST(a_raw_query_is_read_as_the_json_fields_are)
{
    struct api_param p[] = {
        param("from",
              "a@b\xc3\xbc"
              "cher.example",
              0),
        param("to", "b@example.com", 0),
        param("to", "b@EXAMPLE.com", 0),
        param("auth_from", "<>", 0),
    };
    struct smtp_envelope env = {0};
    struct api_request req = {0};
    struct api_request_error re;
    const char **rcpts = NULL;

    CHECK(api_request_from_query(p, 4, &req, &re) == GW_OK);
    rcpts = api_request_envelope(&req, &env);
    CHECK(rcpts != NULL);
    CHECK_STR(env.from, "a@xn--bcher-kva.example");
    CHECK(env.n_rcpts == 1);
    CHECK_STR(rcpts[0], "b@example.com");
    CHECK_STR(env.auth_from, "");
    CHECK_STR(req.credential, "default");
    CHECK(!env.needs_smtputf8);
out:
    free(rcpts);
    api_request_free(&req);
}

TEST(a_raw_query_refuses_nul_repeats_and_bad_auth_from)
{
    const struct {
        struct api_param p;
        const char *field;
    } cases[] = {
        {param("credential", "default\0x", 9), "credential"},
        {param("to", "b@example.com\0x", 15), "to[0]"},
        {param("auth_from", "nobody", 0), "auth_from"},
        {param("from", "a@example.com", 0), "from"}, /* the second */
        {{"to\0x", "b@example.com", 4, 13}, "to"},
    };
    struct api_request req = {0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct api_param p[] = {param("from", "a@example.com", 0), cases[i].p};
        struct api_request_error re;

        CHECK(api_request_from_query(p, 2, &req, &re) == GW_EINVAL);
        CHECK(re.status == 400);
        CHECK_STR(re.field, cases[i].field);
        api_request_free(&req);
        memset(&req, 0, sizeof(req));
    }
out:
    api_request_free(&req);
}

const struct unit_test request_tests[] = {
    UNIT(a_raw_query_is_read_as_the_json_fields_are),
    UNIT(a_raw_query_refuses_nul_repeats_and_bad_auth_from),
    {NULL, NULL}};
