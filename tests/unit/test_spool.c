/* Unit tests of the body spool (api/spool.c): memory, then a nameless file. */
#include "api/spool.h"
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Collects what api_spool_replay() hands over. */
struct sink {
    struct buf got;
    size_t pieces, most;
    size_t stop_after; /* refuse the piece after this many; 0: never */
};

static enum gw_err take(void *arg, const char *p, size_t n)
{
    struct sink *s = arg;

    if (s->stop_after != 0 && s->pieces == s->stop_after)
        return GW_EIO;
    s->pieces++;
    s->most = n > s->most ? n : s->most;
    return buf_append(&s->got, p, n);
}

/* The entries of `dir` but "." and "..". */
static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return (size_t)-1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* A body of 3 MiB in uneven pieces comes back whole, in order, in pieces
   of at most 64 KiB, and leaves no name in the directory. */
TEST(holds_memory_then_file)
{
    char tmpl[] = "/tmp/spool-test-XXXXXX", *dir = NULL;
    size_t total = 3 * 1024 * 1024 + 17, at = 0, step = 1;
    char *body = malloc(total);
    struct sink s = {.pieces = 0};
    struct gw_error err = {0};
    struct api_spool sp;

    /* The spool keeps a pointer to the name, which mkdtemp() fills in. */
    api_spool_init(&sp, tmpl);
    buf_init(&s.got, total);
    CHECK(body != NULL && (dir = mkdtemp(tmpl)) != NULL);
    for (size_t i = 0; i < total; i++)
        body[i] = (char)(i * 7 + i / 4096);
    while (at < total) {
        size_t k = total - at < step ? total - at : step;

        CHECK(api_spool_write(&sp, body + at, k, &err) == GW_OK);
        at += k;
        step = step * 3 + 1;
    }
    CHECK(sp.len == total && sp.mem.len == API_SPOOL_MEMORY && sp.fd >= 0);
    CHECK(entries(dir) == 0);
    CHECK(api_spool_replay(&sp, take, &s, &err) == GW_OK);
    CHECK(s.got.len == total && memcmp(s.got.data, body, total) == 0);
    CHECK(s.most <= 64 * 1024);
    /* A piece refused stops the replay with its code. */
    buf_reset(&s.got);
    s.pieces = 0;
    s.stop_after = 3;
    CHECK(api_spool_replay(&sp, take, &s, &err) == GW_EIO);
    CHECK(s.got.len == 3 * 64 * 1024);
    api_spool_free(&sp);
    CHECK(entries(dir) == 0);
out:
    api_spool_free(&sp);
    buf_free(&s.got);
    if (dir != NULL)
        rmdir(dir);
    free(body);
}

/* A small body stays in memory: no file is made at all. */
TEST(small_body_makes_no_file)
{
    struct gw_error err = {0};
    struct api_spool sp;

    api_spool_init(&sp, "/nonexistent/spool-dir");
    CHECK(api_spool_write(&sp, "From: a\r\n\r\nx", 12, &err) == GW_OK);
    CHECK(sp.fd == -1 && sp.len == 12);
out:
    api_spool_free(&sp);
}

/* Past the memory part, a directory that cannot hold the file is an
   error that says so. */
TEST(file_that_cannot_be_made_is_eio)
{
    static char chunk[64 * 1024];
    struct gw_error err = {0};
    enum gw_err rc = GW_OK;
    struct api_spool sp;

    api_spool_init(&sp, "/nonexistent/spool-dir");
    for (size_t i = 0; i < 17 && rc == GW_OK; i++)
        rc = api_spool_write(&sp, chunk, sizeof(chunk), &err);
    CHECK(rc == GW_EIO);
    CHECK(strstr(err.detail, "data directory") != NULL);
out:
    api_spool_free(&sp);
}

const struct unit_test spool_tests[] = {
    UNIT(holds_memory_then_file),
    UNIT(small_body_makes_no_file),
    UNIT(file_that_cannot_be_made_is_eio),
    {NULL, NULL},
};
