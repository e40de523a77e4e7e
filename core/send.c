/*
 * The send path the HTTP routes share, and that a queue worker will: the
 * message composed, sent through a credential's pool, and composed again
 * in 7-bit encodings when the server cannot take 8bit; and the list of
 * sends in progress, for a stop that cuts them off. See core.h.
 */
#include "core.h"

#include <pthread.h>
#include <stdio.h>

enum gw_err core_compose(const struct core_message *m, struct buf *out,
                         struct mime_result *mres, struct gw_error *err)
{
    enum gw_err rc;

    /* Room for the worst expansion of quoted-printable (3x) and headers;
       reserved for the usual case, base64 attachments, whose lines add
       a thirty-eighth. */
    buf_init(out, 3 * m->body_len + 64 * 1024);
    rc = buf_reserve(out, m->body_len + m->body_len / 32 + 64 * 1024);
    if (rc != GW_OK)
        return gw_error_set(err, rc, "out of memory");
    return mime_compose(&m->msg, &m->opt, out, mres, err);
}

enum gw_err core_send(struct smtp_pool *pool, const char *credential,
                      struct core_message *m, struct smtp_envelope *env,
                      struct buf *msg, struct mime_result *mres,
                      struct smtp_result *res, struct gw_error *err)
{
    struct core_running running = {0};

    env->body_8bit = mres->is_8bit;
    env->needs_smtputf8 |= mres->needs_smtputf8;
    core_running_begin(&running, credential, mres->message_id);
    smtp_pool_send(pool, env, msg->data, msg->len, res);
    /* The server has no 8BITMIME and nothing was sent: the same message
       again in 7-bit encodings, through the pool as any send. */
    if (res->needs_7bit && mres->is_8bit) {
        smtp_result_free(res);
        *res = (struct smtp_result){0};
        m->opt.allow_8bit = false;
        buf_free(msg);
        if (core_compose(m, msg, mres, err) != GW_OK) {
            core_running_end(&running);
            return err->code;
        }
        core_running_set_id(&running, mres->message_id);
        env->body_8bit = mres->is_8bit;
        smtp_pool_send(pool, env, msg->data, msg->len, res);
    }
    core_running_end(&running);
    return GW_OK;
}

/* The sends in progress, newest first, for a stop that cuts them off. */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct core_running *running;

void core_running_begin(struct core_running *r, const char *credential,
                        const char *message_id)
{
    snprintf(r->credential, sizeof(r->credential), "%s", credential);
    snprintf(r->message_id, sizeof(r->message_id), "%s",
             message_id ? message_id : "");
    pthread_mutex_lock(&running_lock);
    r->prev = NULL;
    r->next = running;
    if (running != NULL)
        running->prev = r;
    running = r;
    pthread_mutex_unlock(&running_lock);
}

void core_running_set_id(struct core_running *r, const char *message_id)
{
    pthread_mutex_lock(&running_lock);
    snprintf(r->message_id, sizeof(r->message_id), "%s", message_id);
    pthread_mutex_unlock(&running_lock);
}

void core_running_end(struct core_running *r)
{
    pthread_mutex_lock(&running_lock);
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        running = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&running_lock);
}

size_t core_log_running_sends(void)
{
    char id[LOG_QUOTE_MAX];
    size_t n = 0;

    /* A credential's name is a plain word (store_name_valid()); a
       Message-ID may come from the client and is quoted. */
    pthread_mutex_lock(&running_lock);
    for (const struct core_running *r = running; r != NULL; r = r->next, n++)
        log_warn("event=send_cut_off credential=%s message_id=%s",
                 r->credential, log_quote(id, sizeof(id), r->message_id));
    pthread_mutex_unlock(&running_lock);
    return n;
}
