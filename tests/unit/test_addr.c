/* Unit tests of address parsing and checks (mime/addr.c). */
#include "mime/mime.h"
#include "base/base.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

/* An input mime_addr_parse() must refuse, and the detail it must give. */
struct refusal {
    const char *text;
    const char *detail;
};

/*
 * Parses `text` and returns "" when it is refused with `detail`, or a
 * description of what happened instead, in a static buffer.
 */
static const char *refused_with(const char *text, const char *detail)
{
    static char why[700];
    struct gw_error err = {0};
    struct mime_addr a;
    enum gw_err rc = mime_addr_parse(text, &a, &err);

    if (rc == GW_OK) {
        snprintf(why, sizeof(why), "accepted %s", text);
        mime_addr_clear(&a);
        return why;
    }
    if (rc != GW_EINVAL || err.code != GW_EINVAL ||
        strcmp(err.detail, detail) != 0) {
        snprintf(why, sizeof(why), "%s: code %d, detail \"%s\"", text, (int)rc,
                 err.detail);
        return why;
    }
    if (a.name != NULL || a.mailbox != NULL)
        return "a refused address left memory in the addr";
    return "";
}

/*
 * Makes `b` hold `head`, `count` copies of `piece` and `tail`, and returns
 * its text.
 */
static const char *build(struct buf *b, const char *head, const char *piece,
                         int count, const char *tail)
{
    buf_reset(b);
    buf_puts(b, head);
    for (int i = 0; i < count; i++)
        buf_puts(b, piece);
    buf_puts(b, tail);
    return buf_cstr(b);
}

/* Runs a table of refusals; the first mismatch fails the test. */
#define CHECK_REFUSALS(table)                                                  \
    do {                                                                       \
        for (size_t i_ = 0; i_ < sizeof(table) / sizeof(table[0]); i_++)       \
            CHECK_STR(refused_with(table[i_].text, table[i_].detail), "");     \
    } while (0)

TEST(parses_a_bare_mailbox)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    CHECK(mime_addr_parse("  ada@example.com\t", &a, &err) == GW_OK);
    CHECK(a.name == NULL);
    CHECK_STR(a.mailbox, "ada@example.com");
    mime_addr_clear(&a);
    CHECK(a.mailbox == NULL);
out:
    mime_addr_clear(&a);
}

TEST(parses_name_and_angle_brackets)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    CHECK(mime_addr_parse(" Ada  Lovelace   <ada@example.com> ", &a, &err) ==
          GW_OK);
    CHECK_STR(a.name, "Ada  Lovelace");
    CHECK_STR(a.mailbox, "ada@example.com");
    mime_addr_clear(&a);
    CHECK(mime_addr_parse("<ada@example.com>", &a, &err) == GW_OK);
    CHECK(a.name == NULL);
    CHECK_STR(a.mailbox, "ada@example.com");
    mime_addr_clear(&a);
    CHECK(mime_addr_parse("ada@example.com <ada@example.com>", &a, &err) ==
          GW_OK);
    CHECK_STR(a.name, "ada@example.com");
out:
    mime_addr_clear(&a);
}

TEST(unescapes_a_quoted_name)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    CHECK(mime_addr_parse("\"Doe, \\\"J\\\" \\\\ x <y>\"  <j@example.org>", &a,
                          &err) == GW_OK);
    CHECK_STR(a.name, "Doe, \"J\" \\ x <y>");
    CHECK_STR(a.mailbox, "j@example.org");
    mime_addr_clear(&a);
    CHECK(mime_addr_parse("\"\" <j@example.org>", &a, &err) == GW_OK);
    CHECK(a.name == NULL);
out:
    mime_addr_clear(&a);
}

TEST(accepts_utf8_and_flags_it)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    CHECK(mime_addr_parse("Zo\xC3\xAB <zo\xC3\xAB@ex\xC3\xA4mple.de>", &a,
                          &err) == GW_OK);
    CHECK_STR(a.name, "Zo\xC3\xAB");
    CHECK_STR(a.mailbox, "zo\xC3\xAB@xn--exmple-cua.de");
    CHECK(mime_addr_needs_utf8(a.mailbox));
    CHECK(!mime_addr_needs_utf8("zoe@example.de"));
    CHECK(mime_addr_check_mailbox("\xE7\x94\xB0\xE4\xB8\xAD@\xE4\xBE\x8B.jp",
                                  &err) == GW_OK);
out:
    mime_addr_clear(&a);
}

TEST(accepts_domain_literals_and_quoted_local_parts)
{
    struct gw_error err = {0};

    CHECK(mime_addr_check_mailbox("a@[192.0.2.1]", &err) == GW_OK);
    CHECK(mime_addr_check_mailbox("a@[IPv6:2001:db8::1]", &err) == GW_OK);
    CHECK(mime_addr_check_mailbox("\"a,b@c;d..e\"@example.com", &err) == GW_OK);
    CHECK(mime_addr_check_mailbox("first.last+tag@sub-1.example.com", &err) ==
          GW_OK);
    CHECK(mime_addr_check_mailbox("a@localhost", &err) == GW_OK);
out:;
}

TEST(accepts_the_size_limits_exactly)
{
    struct gw_error err = {0};
    char box[300];

    /* 64-byte local part, 63-byte label. */
    snprintf(box, sizeof(box), "%064d@%063d.com", 0, 0);
    CHECK(mime_addr_check_mailbox(box, &err) == GW_OK);
    /* 254 bytes: 64 + 1 + 189 for the domain. */
    snprintf(box, sizeof(box), "%064d@%062d.%062d.%061d.a", 0, 0, 0, 0);
    CHECK(strlen(box) == 254);
    CHECK(mime_addr_check_mailbox(box, &err) == GW_OK);
out:;
}

TEST(refuses_empty_and_broken_text)
{
    static const struct refusal table[] = {
        {"", "the address is empty"},
        {" \t ", "the address is empty"},
        {"a@example.com\r\nBcc: x@y.z", "the address has a line break"},
        {"Ann\n <a@example.com>", "the address has a line break"},
        {"a@exa\x01mple.com", "the address has a control character"},
        {"a\x7F@example.com", "the address has a control character"},
        {"A\x02nn <a@example.com>", "the name has a control character"},
        {"A\tB <a@example.com>", "the name has a control character"},
        {"\xFF@example.com", "the address is not valid UTF-8"},
        {"Zo\xC3 <zoe@example.com>", "the name is not valid UTF-8"},
    };

    CHECK_STR(refused_with(NULL, "the address is empty"), "");
    CHECK_REFUSALS(table);
out:;
}

TEST(refuses_forbidden_bytes_in_the_mailbox)
{
    static const struct refusal table[] = {
        {"John Doe john@example.com", "the address has a space"},
        {"a\tb@example.com", "the address has a tab"},
        {"Ann <a<b@example.com>", "the address has a < or >"},
        {"a>b@example.com", "the address has a < or >"},
        {"a\\b@example.com", "the address has a backslash"},
        {"a\"b@example.com",
         "the address has a quote outside a quoted local part"},
        {"a,b@example.com", "the address has a comma"},
        {"a@example.com,b.org", "the address has a comma"},
        {"a;b@example.com", "the address has a semicolon"},
        {"a:b@example.com", "the address has a colon"},
        {"a(b)@example.com", "the address has a parenthesis"},
        {"a@exam(ple.com", "the address has a parenthesis"},
        {"a[b@example.com",
         "the address has a [ or ] outside a domain literal"},
        {"a@exa]mple.com", "the address has a [ or ] outside a domain literal"},
        {"\"a b\"@example.com", "the address has a space"},
    };

    CHECK_REFUSALS(table);
out:;
}

TEST(refuses_bad_at_signs_and_local_parts)
{
    static const struct refusal table[] = {
        {"example.com", "the address has no @"},
        {"a@b@example.com", "the address has more than one @"},
        {"\"a@b\"@c@example.com", "the address has more than one @"},
        {"@example.com", "the local part is empty"},
        {"\"\"@example.com", "the local part is empty"},
        {".a@example.com", "the local part starts with a dot"},
        {"a.@example.com", "the local part ends with a dot"},
        {"a..b@example.com", "the local part has two dots in a row"},
        {"a@", "the domain is empty"},
    };

    CHECK_REFUSALS(table);
out:;
}

TEST(check_mailbox_refuses_broken_quoted_local_parts)
{
    struct gw_error err = {0};

    CHECK(mime_addr_check_mailbox("\"ab@example.com", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the quoted local part has no closing quote");
    CHECK(mime_addr_check_mailbox("\"a\"b@example.com", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the quoted local part must be followed by @");
    CHECK(mime_addr_check_mailbox("\"a\"", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the address has no @");
    CHECK(mime_addr_check_mailbox(NULL, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the address is empty");
out:;
}

TEST(parse_takes_a_quoted_local_part_as_a_mailbox)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    CHECK(mime_addr_parse("\"a,b\"@example.com", &a, &err) == GW_OK);
    CHECK(a.name == NULL);
    CHECK_STR(a.mailbox, "\"a,b\"@example.com");
    mime_addr_clear(&a);
    CHECK(mime_addr_parse("\"Q\" <\"a;b\"@example.com>", &a, &err) == GW_OK);
    CHECK_STR(a.name, "Q");
    CHECK_STR(a.mailbox, "\"a;b\"@example.com");
out:
    mime_addr_clear(&a);
}

TEST(refuses_bad_domains)
{
    static const struct refusal table[] = {
        {"a@.example.com", "the domain starts with a dot"},
        {"a@example.com.", "the domain ends with a dot"},
        {"a@example..com", "the domain has two dots in a row"},
        {"a@-example.com", "a domain label starts or ends with a hyphen"},
        {"a@example-.com", "a domain label starts or ends with a hyphen"},
        {"a@ex_ample.com", "the domain has a character other than letters, "
                           "digits, hyphens and dots"},
        {"a@[192.0.2.1", "the domain literal has no closing ]"},
        {"a@[192.0.2]", "the domain literal is not an IPv4 or IPv6 address"},
        {"a@[IPv6:zz::1]", "the domain literal is not an IPv4 or IPv6 address"},
        {"a@[example.com]",
         "the domain literal is not an IPv4 or IPv6 address"},
    };

    CHECK_REFUSALS(table);
out:;
}

TEST(refuses_past_the_size_limits)
{
    struct gw_error err = {0};
    char box[300];

    snprintf(box, sizeof(box), "%065d@example.com", 0);
    CHECK_STR(refused_with(box, "the local part is longer than 64 bytes"), "");
    snprintf(box, sizeof(box), "a@%064d.com", 0);
    CHECK_STR(refused_with(box, "a domain label is longer than 63 bytes"), "");
    snprintf(box, sizeof(box), "%064d@%062d.%062d.%061d.ab", 0, 0, 0, 0);
    CHECK(strlen(box) == 255);
    CHECK(mime_addr_check_mailbox(box, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the address is longer than 254 bytes");
out:;
}

TEST(refuses_broken_name_syntax)
{
    static const struct refusal table[] = {
        {"Ann <a@example.com", "the address has no closing >"},
        {"Ann <a@example.com> x", "the address has text after >"},
        {"Ann <a@example.com>, Bob <b@example.com>",
         "the address has text after >"},
        {"\"Ann <a@example.com>", "the name has no closing quote"},
        {"\"Ann\" a@example.com",
         "the quoted name must be followed by <address>"},
        {"Jo\"e <a@example.com>",
         "the name has a quote; put the whole name in quotes"},
        {"a>b <a@example.com>",
         "the name has a >; put the whole name in quotes"},
        {"Ann <>", "the address is empty"},
        {"Ann < a@example.com>", "the address has a space"},
    };

    CHECK_REFUSALS(table);
out:;
}

TEST(set_checks_and_copies)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    CHECK(mime_addr_set(&a, " Doe, J. ", "j@example.com", &err) == GW_OK);
    CHECK_STR(a.name, "Doe, J.");
    CHECK_STR(a.mailbox, "j@example.com");
    mime_addr_clear(&a);
    CHECK(mime_addr_set(&a, NULL, "j@example.com", &err) == GW_OK);
    CHECK(a.name == NULL);
    mime_addr_clear(&a);
    CHECK(mime_addr_set(&a, "J\r\nBcc: x", "j@example.com", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the name has a line break");
    CHECK(a.name == NULL && a.mailbox == NULL);
    CHECK(mime_addr_set(&a, "J", "j@exa mple.com", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the address has a space");
    CHECK(a.name == NULL && a.mailbox == NULL);
    CHECK(mime_addr_set(&a, "J", NULL, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the address is empty");
out:
    mime_addr_clear(&a);
}

TEST(check_name_refuses_control_and_bad_utf8)
{
    struct gw_error err = {0};

    CHECK(mime_addr_check_name(NULL, &err) == GW_OK);
    CHECK(mime_addr_check_name("Ren\xC3\xA9 \"R\" <x>", &err) == GW_OK);
    CHECK(mime_addr_check_name("a\tb", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the name has a control character");
    CHECK(mime_addr_check_name("a\xC3", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the name is not valid UTF-8");
out:;
}

TEST(same_mailbox_folds_only_the_domain)
{
    CHECK(mime_addr_same_mailbox("ann@Example.COM", "ann@example.com"));
    CHECK(!mime_addr_same_mailbox("Ann@example.com", "ann@example.com"));
    CHECK(!mime_addr_same_mailbox("ann@example.com", "ann@example.org"));
    CHECK(!mime_addr_same_mailbox("ann@example.com", "ann@example.co"));
    CHECK(!mime_addr_same_mailbox("an@nexample.com", "ann@example.com"));
    CHECK(!mime_addr_same_mailbox("an@example.com", "ann@example.com"));
    CHECK(mime_addr_same_mailbox("\"a@b\"@X.org", "\"a@b\"@x.ORG"));
    CHECK(!mime_addr_same_mailbox(NULL, "ann@example.com"));
out:;
}

TEST(international_domains_become_a_labels)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    /* Only the local part can need SMTPUTF8 once the domain is ASCII. */
    CHECK(mime_addr_parse("B\xC3\xBC <info@B\xC3\xBC"
                          "cher.example>",
                          &a, &err) == GW_OK);
    CHECK_STR(a.name, "B\xC3\xBC");
    CHECK_STR(a.mailbox, "info@xn--bcher-kva.example");
    CHECK(!mime_addr_needs_utf8(a.mailbox));
    mime_addr_clear(&a);
    CHECK(mime_addr_set(&a, NULL, "taro@\xE4\xBE\x8B\xE3\x81\x88.jp", &err) ==
          GW_OK);
    CHECK_STR(a.mailbox, "taro@xn--r8jz45g.jp");
    mime_addr_clear(&a);
    /* UTS #46 maps capitals and the ideographic full stop; the local part
     * and an all-ASCII domain keep their case. */
    CHECK(mime_addr_set(&a, NULL,
                        "Ann@M\xC3\x9CNCHEN\xE3\x80\x82"
                        "De",
                        &err) == GW_OK);
    CHECK_STR(a.mailbox, "Ann@xn--mnchen-3ya.de");
    mime_addr_clear(&a);
    CHECK(mime_addr_parse("Ann@Example.COM", &a, &err) == GW_OK);
    CHECK_STR(a.mailbox, "Ann@Example.COM");
out:
    mime_addr_clear(&a);
}

TEST(a_utf8_label_may_exceed_63_bytes_when_its_a_label_does_not)
{
    struct gw_error err = {0};
    struct buf box;
    struct mime_addr a = {0};

    /* 30 three-byte characters: 90 bytes, a 40-odd character A-label. */
    buf_init(&box, 1024);
    CHECK(mime_addr_parse(build(&box, "a@", "\xE4\xBE\x8B", 30, ".jp"), &a,
                          &err) == GW_OK);
    CHECK(strncmp(a.mailbox, "a@xn--", 6) == 0);
    CHECK(strlen(a.mailbox) < 70);
out:
    mime_addr_clear(&a);
    buf_free(&box);
}

TEST(refuses_invalid_international_domains)
{
    static const struct refusal table[] = {
        {"a@\xF0\x9F\x98\x80.com",
         "the domain is not a valid international domain name (string "
         "contains a disallowed character)"},
        {"a@ab--\xC3\xBC.de", "the domain is not a valid international "
                              "domain name (string contains forbidden two "
                              "hyphens pattern)"},
        {"a@\xC3\xBC_x.de", "the domain has a character other than letters, "
                            "digits, hyphens and dots"},
        {"a@\xC3\xBC\xE3\x80\x82", "the domain ends with a dot"},
        {"a@[\xC3\xBC]", "the domain literal is not an IPv4 or IPv6 address"},
    };

    CHECK_REFUSALS(table);
out:;
}

TEST(check_mailbox_converts_to_check)
{
    struct gw_error err = {0};
    struct buf box;

    buf_init(&box, 1024);
    CHECK(mime_addr_check_mailbox("a@b\xC3\xBC"
                                  "cher.example",
                                  &err) == GW_OK);
    CHECK(mime_addr_check_mailbox("a@\xF0\x9F\x98\x80.com", &err) == GW_EINVAL);
    /* A label whose A-label would pass 63 characters. */
    CHECK(mime_addr_check_mailbox(build(&box, "a@",
                                        "\xC3\xBC"
                                        "a\xC3\xB6"
                                        "b\xC3\xA4"
                                        "c\xC3\xA9"
                                        "d",
                                        8, ".de"),
                                  &err) == GW_EINVAL);
    CHECK(check_contains(err.detail, "not a valid international domain"));
out:
    buf_free(&box);
}

TEST(domain_ascii_checks_and_converts)
{
    struct gw_error err = {0};
    char *d = NULL;

    CHECK(mime_addr_domain_ascii("mail.example.net", &d, &err) == GW_OK);
    CHECK_STR(d, "mail.example.net");
    free(d);
    CHECK(mime_addr_domain_ascii("b\xC3\xBC"
                                 "cher.example",
                                 &d, &err) == GW_OK);
    CHECK_STR(d, "xn--bcher-kva.example");
    free(d);
    CHECK(mime_addr_domain_ascii("[192.0.2.1]", &d, &err) == GW_OK);
    CHECK_STR(d, "[192.0.2.1]");
    free(d);
    CHECK(mime_addr_domain_ascii("bad domain", &d, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the domain has a space or a control character");
    CHECK(d == NULL);
    CHECK(mime_addr_domain_ascii("", &d, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the domain is empty");
    CHECK(mime_addr_domain_ascii("a..b", &d, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the domain has two dots in a row");
    CHECK(mime_addr_domain_ascii("\xF0\x9F\x98\x80.com", &d, &err) ==
          GW_EINVAL);
    CHECK(d == NULL);
    /* Four labels of 63 and a dot between each: 255 bytes. */
    CHECK(mime_addr_domain_ascii(
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              &d, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "the domain is longer than 253 bytes");
    CHECK(d == NULL);
out:
    free(d);
}

const struct unit_test addr_tests[] = {
    UNIT(parses_a_bare_mailbox),
    UNIT(parses_name_and_angle_brackets),
    UNIT(unescapes_a_quoted_name),
    UNIT(accepts_utf8_and_flags_it),
    UNIT(accepts_domain_literals_and_quoted_local_parts),
    UNIT(accepts_the_size_limits_exactly),
    UNIT(refuses_empty_and_broken_text),
    UNIT(refuses_forbidden_bytes_in_the_mailbox),
    UNIT(refuses_bad_at_signs_and_local_parts),
    UNIT(check_mailbox_refuses_broken_quoted_local_parts),
    UNIT(parse_takes_a_quoted_local_part_as_a_mailbox),
    UNIT(refuses_bad_domains),
    UNIT(refuses_past_the_size_limits),
    UNIT(refuses_broken_name_syntax),
    UNIT(set_checks_and_copies),
    UNIT(check_name_refuses_control_and_bad_utf8),
    UNIT(same_mailbox_folds_only_the_domain),
    UNIT(international_domains_become_a_labels),
    UNIT(a_utf8_label_may_exceed_63_bytes_when_its_a_label_does_not),
    UNIT(refuses_invalid_international_domains),
    UNIT(check_mailbox_converts_to_check),
    UNIT(domain_ascii_checks_and_converts),
    {NULL, NULL},
};
