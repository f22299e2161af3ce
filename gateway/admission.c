#include "admission.h"
#include "channels/channel.h"
#include "config.h"
#include "direct.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long max_waiting, max_queue;
static _Atomic long long depth[RP_CHANNEL_MAX];
static pthread_t sampler;
static atomic_int running;

/* One pipelined XLEN per stream; a failed sample keeps the previous depths. replies has room for
 * one per stream. */
static void sample(redisReply **replies)
{
    size_t n;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    int shards = rp_queue_conf()->shards;
    size_t queued = 0;
    for (size_t c = 0; c < n; c++)
        for (int s = 0; s < shards; s++) {
            char key[128];
            rp_queue_stream_key(key, all[c]->type, s);
            rp_store_append("XLEN %s", key);
            rp_store_append("XRANGE %s - + COUNT 1", key);
            queued += 2;
        }
    if (rp_store_collect(replies, queued))
        return;
    size_t k = 0;
    int64_t now = rp_now_ms();
    for (size_t c = 0; c < n; c++) {
        long long sum = 0;
        for (int s = 0; s < shards; s++, k += 2) {
            long long len = replies[k]->type == REDIS_REPLY_INTEGER ? replies[k]->integer : 0;
            /* An entry id starts with the milliseconds it was added at. */
            const redisReply *first = replies[k + 1];
            double age = 0;
            if (first->type == REDIS_REPLY_ARRAY && first->elements == 1 &&
                first->element[0]->type == REDIS_REPLY_ARRAY && first->element[0]->elements >= 1)
                age = (double)(now - strtoll(first->element[0]->element[0]->str, NULL, 10)) / 1000;
            char key[128];
            rp_queue_stream_key(key, all[c]->type, s);
            rp_metrics_queue(key, len, age > 0 ? age : 0);
            sum += len;
            freeReplyObject(replies[k]);
            freeReplyObject(replies[k + 1]);
        }
        atomic_store(&depth[c], sum);
    }
}

static void *sampler_main(void *arg)
{
    (void)arg;
    size_t n;
    rp_channel_all(&n);
    redisReply **replies =
        rp_calloc(2 * n * (size_t)rp_queue_conf()->shards, sizeof(redisReply *));
    while (atomic_load(&running) == 1) {
        sample(replies);
        usleep(RP_ADMISSION_SAMPLE_MS * 1000);
    }
    free(replies);
    rp_store_thread_close();
    return NULL;
}

int rp_admission_start(const struct rp_config *cfg)
{
    max_waiting = rp_config_int(cfg, "admission.max_waiting_direct");
    max_queue = rp_config_int(cfg, "admission.max_queue_per_channel");
    atomic_store(&running, 1);
    if (pthread_create(&sampler, NULL, sampler_main, NULL)) {
        atomic_store(&running, 0);
        return RP_EIO;
    }
    return 0;
}

void rp_admission_stop(void)
{
    if (atomic_load(&running) != 1)
        return;
    atomic_store(&running, 2);
    pthread_join(sampler, NULL);
    atomic_store(&running, 0);
}

int rp_admission_refuse_request(char *why, size_t size)
{
    if (max_waiting <= 0)
        return 0;
    size_t waiting = rp_direct_waiting();
    if ((long long)waiting < max_waiting)
        return 0;
    rp_metrics_count(RP_MC_ADMISSION_WAITING);
    snprintf(why, size,
             "Too many sends waiting for results on this instance (%zu, "
             "admission.max_waiting_direct): retry with backoff",
             waiting);
    return 1;
}

int rp_admission_refuse_channel(const char *channel, char *why, size_t size)
{
    int c = max_queue > 0 ? rp_channel_index(channel) : -1;
    if (c < 0)
        return 0;
    long long queued = atomic_load(&depth[c]);
    if (queued < max_queue)
        return 0;
    rp_metrics_count(RP_MC_ADMISSION_QUEUE);
    snprintf(why, size,
             "The %s queue holds %lld deliveries (admission.max_queue_per_channel %lld): "
             "retry with backoff",
             channel, queued, max_queue);
    return 1;
}
