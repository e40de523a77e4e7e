/* Unit tests of configuration from flags and environment (server/config.c). */
#include "server/config.h"
#include "core/core.h"
#include "check.h"

#include <netinet/in.h>
#include <stdlib.h>

/* A writable copy of a literal, as argv strings are. */
#define ARG(s) ((char[]){s})

static const char *const all_vars[] = {"GATEWAY_LISTEN",
                                       "GATEWAY_DATA_DIR",
                                       "GATEWAY_LOG_LEVEL",
                                       "GATEWAY_MAX_BODY",
                                       "GATEWAY_API_TOKEN",
                                       "GATEWAY_SMTP_HOST",
                                       "GATEWAY_SMTP_PORT",
                                       "GATEWAY_SMTP_TLS",
                                       "GATEWAY_SMTP_HELO_NAME",
                                       "GATEWAY_SMTP_USERNAME",
                                       "GATEWAY_SMTP_PASSWORD",
                                       "GATEWAY_SMTP_TIMEOUT",
                                       "GATEWAY_SMTP_POOL",
                                       "GATEWAY_SMTP_DEADLINE",
                                       "GATEWAY_SMTP_PASSWORD_SEALED",
                                       "GATEWAY_SECRET_KEY",
                                       "GATEWAY_SECRET_KEY_FILE",
                                       NULL};

/* A clean environment with only the required token set. */
static void fresh_env(void)
{
    for (const char *const *v = all_vars; *v != NULL; v++)
        unsetenv(*v);
    setenv("GATEWAY_API_TOKEN", "test-token-0123456789", 1);
}

static bool load(struct srv_config *cfg, int argc, char **argv, char *line)
{
    struct gw_error err = {0};
    bool ok = srv_config_load(cfg, argc, argv, &err);

    snprintf(line, 256, "%.255s", err.detail);
    return ok;
}

TEST(defaults)
{
    struct srv_config cfg;
    char line[256];
    struct sockaddr_in *sa = (struct sockaddr_in *)&cfg.listen_sa;

    fresh_env();
    CHECK(load(&cfg, 0, NULL, line));
    CHECK_STR(cfg.listen, "127.0.0.1:8080");
    CHECK(sa->sin_family == AF_INET && ntohs(sa->sin_port) == 8080);
    CHECK_STR(cfg.data_dir, "./var");
    CHECK(cfg.log_level == LOG_INFO);
    CHECK(cfg.max_body == 10 * 1024 * 1024);
    CHECK_STR(cfg.smtp.host, "localhost");
    CHECK(cfg.smtp.port == 25 && cfg.smtp.tls == STORE_TLS_NONE);
    CHECK(cfg.smtp.timeout_s == 30 && cfg.smtp.pool == 4);
    CHECK_STR(cfg.smtp.username, "");
out:;
}

TEST(flag_wins_over_variable)
{
    char *argv[] = {ARG("--smtp-port"), ARG("2525"),
                    ARG("--smtp-host=mx.example.com")};
    struct srv_config cfg;
    char line[256];

    fresh_env();
    setenv("GATEWAY_SMTP_PORT", "587", 1);
    setenv("GATEWAY_SMTP_POOL", "9", 1);
    CHECK(load(&cfg, 3, argv, line));
    CHECK(cfg.smtp.port == 2525 && cfg.smtp.pool == 9);
    CHECK_STR(cfg.smtp.host, "mx.example.com");
out:;
}

TEST(errors_name_the_setting)
{
    static const struct {
        const char *var, *value, *want;
    } cases[] = {
        {"GATEWAY_SMTP_PORT", "70000", "GATEWAY_SMTP_PORT: must be a number"},
        {"GATEWAY_SMTP_PORT", "25x", "GATEWAY_SMTP_PORT: "},
        {"GATEWAY_SMTP_PORT", "-1", "GATEWAY_SMTP_PORT: "},
        {"GATEWAY_SMTP_TLS", "bogus", "GATEWAY_SMTP_TLS: must be none"},
        {"GATEWAY_LOG_LEVEL", "loud", "GATEWAY_LOG_LEVEL: must be debug"},
        {"GATEWAY_MAX_BODY", "abc", "GATEWAY_MAX_BODY: must be a size"},
        {"GATEWAY_MAX_BODY", "0", "GATEWAY_MAX_BODY: "},
        {"GATEWAY_MAX_BODY", "2G", "GATEWAY_MAX_BODY: "},
        {"GATEWAY_LISTEN", "localhost:80", "GATEWAY_LISTEN: must be an IP"},
        {"GATEWAY_LISTEN", "127.0.0.1", "GATEWAY_LISTEN: "},
        {"GATEWAY_SMTP_TIMEOUT", "0", "GATEWAY_SMTP_TIMEOUT: "},
        {"GATEWAY_SMTP_POOL", "0", "GATEWAY_SMTP_POOL: "},
        {"GATEWAY_SMTP_DEADLINE", "0",
         "GATEWAY_SMTP_DEADLINE: must be a number of seconds from 1 to 3600"},
        {"GATEWAY_SMTP_DEADLINE", "3601", "GATEWAY_SMTP_DEADLINE: "},
        {"GATEWAY_API_TOKEN", "", "GATEWAY_API_TOKEN: must not be empty"},
        {"GATEWAY_API_TOKEN", "with space", "GATEWAY_API_TOKEN: must be"},
        {"GATEWAY_SMTP_USERNAME", "a\nb", "GATEWAY_SMTP_USERNAME: "},
    };
    struct srv_config cfg;
    char line[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fresh_env();
        setenv(cases[i].var, cases[i].value, 1);
        CHECK(!load(&cfg, 0, NULL, line));
        if (strncmp(line, cases[i].want, strlen(cases[i].want)) != 0)
            CHECK_STR(line, cases[i].want);
    }
out:;
}

TEST(the_deadline_reaches_the_default_credential)
{
    char *argv[] = {ARG("--smtp-deadline"), ARG("9")};
    struct store_credential c;
    struct smtp_server srv;
    struct srv_config cfg;
    char line[256];

    fresh_env();
    CHECK(load(&cfg, 0, NULL, line));
    srv_config_credential(&cfg, &c);
    CHECK(c.deadline_s == 0);
    setenv("GATEWAY_SMTP_DEADLINE", "7", 1);
    CHECK(load(&cfg, 0, NULL, line));
    srv_config_credential(&cfg, &c);
    CHECK(c.deadline_s == 7);
    core_credential_smtp(&c, &srv);
    CHECK(srv.deadline_ms == 7000);
    CHECK(load(&cfg, 2, argv, line));
    srv_config_credential(&cfg, &c);
    CHECK(c.deadline_s == 9);
out:;
}

TEST(missing_token_is_refused)
{
    struct srv_config cfg;
    char line[256];

    fresh_env();
    unsetenv("GATEWAY_API_TOKEN");
    CHECK(!load(&cfg, 0, NULL, line));
    CHECK_STR(line, "GATEWAY_API_TOKEN: is required");
out:;
}

TEST(flag_errors_name_the_flag)
{
    char *bad_value[] = {ARG("--smtp-pool"), ARG("0")};
    char *unknown[] = {ARG("--smtp-password"), ARG("x")};
    char *missing[] = {ARG("--listen")};
    struct srv_config cfg;
    char line[256];

    fresh_env();
    CHECK(!load(&cfg, 2, bad_value, line));
    CHECK(check_contains(line, "--smtp-pool: must be a number"));
    CHECK(!load(&cfg, 2, unknown, line));
    CHECK_STR(line, "--smtp-password: unknown option (see --help)");
    CHECK(!load(&cfg, 1, missing, line));
    CHECK_STR(line, "--listen: needs a value");
out:;
}

TEST(sizes_and_addresses)
{
    char *argv[] = {ARG("--max-body"), ARG("512K"), ARG("--listen"),
                    ARG("[::1]:0")};
    struct srv_config cfg;
    char line[256];

    fresh_env();
    CHECK(load(&cfg, 4, argv, line));
    CHECK(cfg.max_body == 512 * 1024);
    CHECK(cfg.listen_sa.ss_family == AF_INET6);
    setenv("GATEWAY_MAX_BODY", "3MiB", 1);
    CHECK(load(&cfg, 0, NULL, line));
    CHECK(cfg.max_body == 3 * 1024 * 1024);
out:;
}

TEST(sealed_and_plain_secrets_exclude_each_other)
{
    struct srv_config cfg;
    char line[256];

    fresh_env();
    setenv("GATEWAY_SMTP_PASSWORD", "plain", 1);
    setenv("GATEWAY_SMTP_PASSWORD_SEALED", "c2VhbGVk", 1);
    CHECK(!load(&cfg, 0, NULL, line));
    CHECK_STR(line, "GATEWAY_SMTP_PASSWORD_SEALED: set it or "
                    "GATEWAY_SMTP_PASSWORD, not both");
    unsetenv("GATEWAY_SMTP_PASSWORD");
    setenv("GATEWAY_SMTP_PASSWORD_SEALED", "not base64!", 1);
    CHECK(!load(&cfg, 0, NULL, line));
    CHECK(check_contains(line, "GATEWAY_SMTP_PASSWORD_SEALED: must be base64"));
    setenv("GATEWAY_SECRET_KEY", "a2V5", 1);
    setenv("GATEWAY_SECRET_KEY_FILE", "/etc/hostname", 1);
    setenv("GATEWAY_SMTP_PASSWORD_SEALED", "c2VhbGVk", 1);
    CHECK(!load(&cfg, 0, NULL, line));
    CHECK(check_contains(line, "GATEWAY_SECRET_KEY_FILE: set it or"));
out:;
}

TEST(the_default_credential_keeps_only_sealed_secrets)
{
    struct store_credential c;
    struct srv_config cfg;
    char line[256];

    fresh_env();
    setenv("GATEWAY_SMTP_PASSWORD_SEALED", "c2VhbGVk\n", 1);
    CHECK(load(&cfg, 0, NULL, line));
    srv_config_credential(&cfg, &c);
    CHECK_STR(c.name, "default");
    CHECK_STR(c.password_box, "");
    setenv("GATEWAY_SMTP_USERNAME", "gw", 1);
    CHECK(load(&cfg, 0, NULL, line));
    srv_config_credential(&cfg, &c);
    CHECK_STR(c.password_box, "c2VhbGVk");
    CHECK_STR(c.username, "gw");
    CHECK(c.port == 25 && c.pool == 4 && c.timeout_s == 30);
out:;
}

const struct unit_test config_tests[] = {
    UNIT(defaults),
    UNIT(flag_wins_over_variable),
    UNIT(errors_name_the_setting),
    UNIT(the_deadline_reaches_the_default_credential),
    UNIT(missing_token_is_refused),
    UNIT(flag_errors_name_the_flag),
    UNIT(sizes_and_addresses),
    UNIT(sealed_and_plain_secrets_exclude_each_other),
    UNIT(the_default_credential_keeps_only_sealed_secrets),
    {NULL, NULL},
};
