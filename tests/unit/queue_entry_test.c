/* Queue entries shared by deliveries of one message (gateway/queue.c, gateway/delivery.c): which
 * deliveries may share an entry, and that an entry decodes back into exactly the deliveries
 * that went in, each with its own recipient, or is refused whole when malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "json_write.h"
#include "queue.h"
#include "rc.h"

static void make(struct rp_delivery *d, int n)
{
    rp_delivery_init(d);
    snprintf(d->message_id, sizeof(d->message_id), "m-%d", n);
    snprintf(d->request_id, sizeof(d->request_id), "run-1");
    snprintf(d->app_id, sizeof(d->app_id), "app-1");
    snprintf(d->channel, sizeof(d->channel), "GCM");
    char text[32];
    snprintf(text, sizeof(text), "token-%d", n);
    d->address = strdup(text);
    snprintf(text, sizeof(text), "ep-%d", n);
    d->endpoint_id = strdup(text);
    d->recipient_key = strdup(text);
    d->content = json_pack("{s:s, s:s}", "Title", "Sale", "Body", "Today only");
    d->created_ms = 1795000000000LL;
    d->deadline_ms = 1795000600000LL;
    d->origin = RP_ORIGIN_CAMPAIGN;
    snprintf(d->campaign_id, sizeof(d->campaign_id), "camp-1");
    snprintf(d->campaign_activity_id, sizeof(d->campaign_activity_id), "act-1");
    d->campaign_gen = 3;
}

static void one_message_to_many_recipients(void **state)
{
    (void)state;
    struct rp_delivery a, b;
    make(&a, 1);
    make(&b, 2);
    assert_true(rp_delivery_same_message(&a, &b));

    /* A personalised body, another channel, another run generation or context: not shared. */
    json_object_set_new(b.content, "Body", json_string("Today only, Ana"));
    assert_false(rp_delivery_same_message(&a, &b));
    json_object_set_new(b.content, "Body", json_string("Today only"));
    snprintf(b.channel, sizeof(b.channel), "APNS");
    assert_false(rp_delivery_same_message(&a, &b));
    snprintf(b.channel, sizeof(b.channel), "GCM");
    b.campaign_gen = 4;
    assert_false(rp_delivery_same_message(&a, &b));
    b.campaign_gen = 3;
    b.context = json_pack("{s:s}", "k", "v");
    assert_false(rp_delivery_same_message(&a, &b));
    rp_delivery_cleanup(&a);
    rp_delivery_cleanup(&b);
}

/* The fields of an entry for ds[0..n), as rp_queue_append_shared writes them. */
static void entry_fields(struct rp_delivery *ds, size_t n, char **d_text, size_t *d_len,
                         char **r_text, size_t *r_len)
{
    const struct rp_delivery *ptrs[RP_QUEUE_SHARED_MAX];
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &ds[i];
    rp_queue_entry_encode(ptrs, n, d_text, d_len, r_text, r_len);
}

static void entry_decodes_into_each_delivery(void **state)
{
    (void)state;
    struct rp_delivery in[RP_QUEUE_SHARED_MAX], out[RP_QUEUE_SHARED_MAX];
    for (int i = 0; i < RP_QUEUE_SHARED_MAX; i++)
        make(&in[i], i);
    free(in[5].endpoint_id); /* a recipient without an endpoint id keeps none */
    in[5].endpoint_id = NULL;
    char *d, *r;
    size_t d_len, r_len;
    entry_fields(in, RP_QUEUE_SHARED_MAX, &d, &d_len, &r, &r_len);
    assert_int_equal(rp_queue_entry_decode(d, d_len, r, r_len, out), RP_QUEUE_SHARED_MAX);
    for (int i = 0; i < RP_QUEUE_SHARED_MAX; i++) {
        assert_string_equal(out[i].message_id, in[i].message_id);
        assert_string_equal(out[i].address, in[i].address);
        assert_string_equal(out[i].recipient_key, in[i].recipient_key);
        if (i == 5)
            assert_null(out[i].endpoint_id);
        else
            assert_string_equal(out[i].endpoint_id, in[i].endpoint_id);
        assert_true(json_equal(out[i].content, in[i].content));
        assert_string_equal(out[i].campaign_activity_id, "act-1");
        assert_int_equal(out[i].campaign_gen, 3);
        assert_int_equal(out[i].deadline_ms, in[i].deadline_ms);
        assert_true(rp_delivery_same_message(&out[i], &in[0]));
    }
    /* Each delivery owns what it frees: cleaning one leaves the others whole. */
    rp_delivery_cleanup(&out[0]);
    assert_string_equal(json_string_value(json_object_get(out[1].content, "Body")), "Today only");
    for (int i = 1; i < RP_QUEUE_SHARED_MAX; i++)
        rp_delivery_cleanup(&out[i]);
    free(d);
    free(r);

    /* An entry of one delivery has no "r". */
    entry_fields(in, 1, &d, &d_len, &r, &r_len);
    assert_int_equal(rp_queue_entry_decode(d, d_len, NULL, 0, out), 1);
    assert_string_equal(out[0].address, "token-0");
    rp_delivery_cleanup(&out[0]);
    free(d);
    free(r);
    for (int i = 0; i < RP_QUEUE_SHARED_MAX; i++)
        rp_delivery_cleanup(&in[i]);
}

static void malformed_entry_refused_whole(void **state)
{
    (void)state;
    struct rp_delivery base, out[RP_QUEUE_SHARED_MAX];
    make(&base, 0);
    json_t *doc = rp_delivery_to_json(&base);
    size_t d_len;
    char *d = rp_json_dump(doc, &d_len);
    json_decref(doc);
    char many[4096] = "[";
    for (int i = 0; i < RP_QUEUE_SHARED_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s[\"m-%d\",null,\"t\",\"k\"]",
                 i ? "," : "", i);
    strcat(many, "]");
    const char *bad[] = {
        "{}",                                   /* not an array */
        "[]",                                   /* "r" with nobody in it */
        "[[\"m-1\",\"ep-1\",\"t\"]]",           /* three members */
        "[[\"m-1\",\"ep-1\",\"t\",\"k\"],[1,null,\"t\",\"k\"]]", /* an id that is a number */
        "[[\"m-1\",7,\"t\",\"k\"]]",            /* an endpoint id that is a number */
        "[[\"\",null,\"t\",\"k\"]]",               /* an empty message id */
        "[[\"0123456789012345678901234567890123456789012345678901\",null,\"t\",\"k\"]]",
        many,                                   /* more than an entry holds */
        "[[\"m-1\",null,\"t\",\"k\"]",          /* not JSON */
        "[[\"m-1\",null,\"t\",\"k\"],{}]",      /* an object for a recipient */
        "[[\"m-1\",null,\"t\",\"k\"],true]",    /* a boolean for a recipient */
        "[[\"m-1\",null,\"t\",\"k\"],5]",       /* a number for a recipient */
        "[[\"m-1\",null,\"t\",{\"k\":1}]]",     /* an object for a key */
        "[[\"m-1\",null,[\"t\"],\"k\"]]",       /* an array for an address */
        "[[\"m-1\",null,\"t\",\"k\",\"x\"]]",  /* five members */
        "[[\"m-1\",null,null,\"k\"]]",            /* no address */
        "[[\"m-1\",null,\"t\\u0000u\",\"k\"]]", /* a NUL in the address */
        "[[\"m-1\",null,\"t\",\"k\"]] []",      /* something after the list */
        "\"m-1\"",                                 /* a string */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rp_queue_entry_decode(d, d_len, bad[i], strlen(bad[i]), out), RP_EINVAL);
    assert_int_equal(rp_queue_entry_decode("{\"id\":1}", 8, NULL, 0, out), RP_EINVAL);
    free(d);
    rp_delivery_cleanup(&base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_message_to_many_recipients),
        cmocka_unit_test(entry_decodes_into_each_delivery),
        cmocka_unit_test(malformed_entry_refused_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
