#include "pollers.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <time.h>

static void idle_wait(struct rp_pollers *p)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)p->idle_ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->idle_lock);
    if (!atomic_load(&p->stopping))
        pthread_cond_timedwait(&p->idle_cond, &p->idle_lock, &ts);
    pthread_mutex_unlock(&p->idle_lock);
}

static void *poller_main(void *arg)
{
    struct rp_pollers *p = arg;
    while (!atomic_load(&p->stopping))
        if (!p->work())
            idle_wait(p);
    rp_store_thread_close();
    return NULL;
}

int rp_pollers_start(struct rp_pollers *p, int count)
{
    atomic_store(&p->stopping, 0);
    if (count <= 0)
        return 0;
    p->threads = rp_calloc((size_t)count, sizeof(pthread_t));
    for (p->n_threads = 0; p->n_threads < count; p->n_threads++)
        if (pthread_create(&p->threads[p->n_threads], NULL, poller_main, p)) {
            rp_error(p->name, "cannot start %s threads", p->name);
            rp_pollers_stop(p);
            return RP_EFATAL;
        }
    return 0;
}

void rp_pollers_stop(struct rp_pollers *p)
{
    pthread_mutex_lock(&p->idle_lock);
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->idle_cond);
    pthread_mutex_unlock(&p->idle_lock);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    p->n_threads = 0;
}

int rp_pollers_stopping(struct rp_pollers *p)
{
    return atomic_load(&p->stopping);
}
