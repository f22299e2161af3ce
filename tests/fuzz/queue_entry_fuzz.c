/* Fuzzes the decoding of a queue entry (gateway/queue.c rp_queue_entry_decode): the "d"
 * delivery and the "r" recipients of an entry shared by deliveries of one message, as a worker
 * reads them from the stream. Beyond "no crash, no leak": a decoded entry holds 1 to
 * RP_QUEUE_SHARED_MAX deliveries, each with a message id and an address, all of one message
 * (rp_delivery_same_message), and written back the way rp_queue_append_shared writes them it
 * decodes into the same deliveries. Input: the "d" text, then optionally a NUL byte and the "r"
 * text. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "queue.h"

static void check(const struct rp_delivery *ds, int n)
{
    if (n < 1 || n > RP_QUEUE_SHARED_MAX)
        abort();
    for (int i = 0; i < n; i++)
        if (!ds[i].message_id[0] || !ds[i].address || !rp_delivery_same_message(&ds[0], &ds[i]))
            abort();
}

static void round_trip(const struct rp_delivery *ds, int n)
{
    const struct rp_delivery *ptrs[RP_QUEUE_SHARED_MAX];
    for (int i = 0; i < n; i++)
        ptrs[i] = &ds[i];
    size_t d_len = 0, r_len = 0;
    char *d, *r;
    rp_queue_entry_encode(ptrs, (size_t)n, &d, &d_len, &r, &r_len);
    struct rp_delivery back[RP_QUEUE_SHARED_MAX];
    int m = rp_queue_entry_decode(d, d_len, r, r_len, back);
    if (m != n)
        abort();
    for (int i = 0; i < m; i++) {
        if (strcmp(back[i].message_id, ds[i].message_id) != 0 ||
            strcmp(back[i].address, ds[i].address) != 0)
            abort();
        rp_delivery_cleanup(&back[i]);
    }
    free(d);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t d_len = nul ? (size_t)(nul - text) : size;
    const char *r = nul ? nul + 1 : NULL;
    size_t r_len = nul ? size - d_len - 1 : 0;
    struct rp_delivery ds[RP_QUEUE_SHARED_MAX];
    int n = rp_queue_entry_decode(text, d_len, r, r_len, ds);
    if (n <= 0)
        return 0;
    check(ds, n);
    round_trip(ds, n);
    for (int i = 0; i < n; i++)
        rp_delivery_cleanup(&ds[i]);
    return 0;
}
