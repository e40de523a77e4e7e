/* Unit tests of the credential and token files (store/records.c). */
#include "store/store.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(a_credential_file_round_trips)
{
    struct store_credential c, *back = NULL;
    const struct store_credential *list[] = {&c};
    char key_id[17];
    struct buf text;
    size_t n = 0;

    store_credential_defaults(&c, "billing");
    snprintf(c.host, sizeof(c.host), "%s", "smtp.example.com");
    c.port = 587;
    c.tls = STORE_TLS_STARTTLS;
    c.connect_timeout_s = 5;
    c.deadline_s = 9;
    snprintf(c.username, sizeof(c.username), "%s", "gw");
    snprintf(c.password_box, sizeof(c.password_box), "%s", "c2VhbGVk");
    buf_init(&text, STORE_FILE_MAX);
    CHECK(store_creds_encode("0011223344556677", list, 1, &text, NULL) ==
          GW_OK);
    CHECK(check_contains(buf_cstr(&text), "\"password_sealed\": \"c2VhbGVk\""));
    CHECK(check_contains(buf_cstr(&text), "\"tls\": \"starttls\""));
    CHECK(check_contains(buf_cstr(&text), "\"deadline\": 9"));
    CHECK(store_creds_decode(text.data, text.len, key_id, sizeof(key_id), &back,
                             &n, NULL) == GW_OK);
    CHECK(n == 1);
    CHECK_STR(key_id, "0011223344556677");
    CHECK(memcmp(back, &c, sizeof(c)) == 0);
out:
    free(back);
    buf_free(&text);
}

/* Decodes `text`; the error detail, or "ok". */
static const char *decode(const char *text, struct gw_error *err)
{
    struct store_credential *out = NULL;
    char key_id[17];
    size_t n;
    enum gw_err rc = store_creds_decode(text, strlen(text), key_id,
                                        sizeof(key_id), &out, &n, err);

    free(out);
    return rc == GW_OK ? "ok" : err->detail;
}

TEST(a_credential_file_refuses_secrets_in_the_clear)
{
    struct gw_error err = {0};

    CHECK_STR(decode("{\"version\":1,\"credentials\":{\"x\":{\"host\":\"h\","
                     "\"username\":\"u\",\"password\":\"p\"}}}",
                     &err),
              "credential x: password: unknown field");
    CHECK_STR(decode("{\"version\":1,\"credentials\":{}}", &err), "ok");
    CHECK_STR(decode("{\"version\":1,\"credentials\":{\"x\":{\"host\":\"h\","
                     "\"deadline\":3601}}}",
                     &err),
              "credential x: deadline: must be a number from 0 to 3600");
    CHECK_STR(decode("{\"version\":2,\"credentials\":{}}", &err),
              "\"version\" must be 1");
    CHECK_STR(decode("{\"version\":1,\"credentials\":{\"../x\":{\"host\":"
                     "\"h\"}}}",
                     &err),
              "credential \"../x\": not a name");
    CHECK_STR(decode("{\"version\":1,\"credentials\":{\"x\":{\"host\":\"h\","
                     "\"port\":0}}}",
                     &err),
              "credential x: port: must be a number from 1 to 65535");
    CHECK(check_contains(decode("[1]", &err), "not a JSON object"));
out:;
}

TEST(names_and_lists)
{
    struct gw_error err = {0};

    CHECK(store_name_valid("billing-eu_2.x"));
    CHECK(!store_name_valid(""));
    CHECK(!store_name_valid(".hidden"));
    CHECK(!store_name_valid("a/b"));
    CHECK(!store_name_valid("a b"));
    CHECK(store_list_allows("", "anything", false));
    CHECK(store_list_allows("a,billing", "billing", false));
    CHECK(!store_list_allows("a,billing", "bill", false));
    CHECK(!store_list_allows("a,billing", "BILLING", false));
    CHECK(store_list_allows("example.com", "EXAMPLE.com", true));
    CHECK(!store_list_allows("example.com", "sub.example.com", true));
    CHECK(store_list_check("a,b-c", false, &err) == GW_OK);
    CHECK(store_list_check("a,,b", false, &err) == GW_EINVAL);
    CHECK(store_list_check("example.com,mail.example.org", true, &err) ==
          GW_OK);
    CHECK(store_list_check("exa mple.com", true, &err) == GW_EINVAL);
    CHECK(check_contains(err.detail, "\"exa mple.com\" is not a domain"));
    CHECK(store_list_check("-bad.com", true, &err) == GW_EINVAL);
out:;
}

TEST(a_token_file_round_trips_with_hashes_only)
{
    struct store_token t = {.scope = STORE_SCOPE_SEND}, *back = NULL;
    struct buf text;
    size_t n = 0;

    snprintf(t.name, sizeof(t.name), "%s", "ci");
    snprintf(t.credentials, sizeof(t.credentials), "%s", "a,b");
    snprintf(t.from_domains, sizeof(t.from_domains), "%s", "example.com");
    memset(t.hash, 'f', 64);
    snprintf(t.created, sizeof(t.created), "%s", "2026-01-01T00:00:00Z");
    buf_init(&text, STORE_FILE_MAX);
    CHECK(store_tokens_encode(&t, 1, &text, NULL) == GW_OK);
    CHECK(check_contains(buf_cstr(&text), "\"credentials\": [\n"));
    CHECK(store_tokens_decode(text.data, text.len, &back, &n, NULL) == GW_OK);
    CHECK(n == 1);
    CHECK(memcmp(back, &t, sizeof(t)) == 0);
out:
    free(back);
    buf_free(&text);
}

TEST(a_token_file_without_a_proper_hash_is_refused)
{
    static const char bad[] =
        "{\"version\":1,\"tokens\":[{\"name\":\"ci\",\"scope\":\"send\","
        "\"hash\":\"sgw_not_a_hash\"}]}";
    struct store_token *out = NULL;
    struct gw_error err = {0};
    size_t n;

    CHECK(store_tokens_decode(bad, strlen(bad), &out, &n, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "tokens[0]: hash: must be 64 hexadecimal digits");
    CHECK(out == NULL);
out:
    free(out);
}

TEST(a_public_key_document_is_read)
{
    static const char doc[] = "{\"key_id\":\"0011223344556677\","
                              "\"public_key\":\"AAAA\"}";
    char id[17], key[64];
    struct gw_error err = {0};

    CHECK(store_public_key_decode(doc, strlen(doc), id, sizeof(id), key,
                                  sizeof(key), &err) == GW_OK);
    CHECK_STR(id, "0011223344556677");
    CHECK_STR(key, "AAAA");
    CHECK(store_public_key_decode("{}", 2, id, sizeof(id), key, sizeof(key),
                                  &err) == GW_EINVAL);
out:;
}

const struct unit_test records_tests[] = {
    UNIT(a_credential_file_round_trips),
    UNIT(a_credential_file_refuses_secrets_in_the_clear),
    UNIT(names_and_lists),
    UNIT(a_token_file_round_trips_with_hashes_only),
    UNIT(a_token_file_without_a_proper_hash_is_refused),
    UNIT(a_public_key_document_is_read),
    {NULL, NULL}};
