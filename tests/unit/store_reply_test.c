/* Which Redis error replies the store calls passing (rp_reply_refused_for_now): the worker sends
 * those commands again instead of losing what they record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "store.h"

static int refused(int type, const char *text)
{
    redisReply r = {.type = type, .str = (char *)text, .len = strlen(text)};
    return rp_reply_refused_for_now(&r);
}

static void passing_refusals(void **state)
{
    (void)state;
    assert_true(refused(REDIS_REPLY_ERROR, "OOM command not allowed when used memory > 'maxmemory'."));
    assert_true(refused(REDIS_REPLY_ERROR, "BUSY Redis is busy running a script."));
    assert_true(refused(REDIS_REPLY_ERROR, "LOADING Redis is loading the dataset in memory"));
    assert_true(refused(REDIS_REPLY_ERROR, "READONLY You can't write against a read only replica."));
    assert_true(refused(REDIS_REPLY_ERROR, "MASTERDOWN Link with MASTER is down"));
    assert_true(refused(REDIS_REPLY_ERROR, "TRYAGAIN Multiple keys request during rehashing"));
    assert_true(refused(REDIS_REPLY_ERROR, "CLUSTERDOWN The cluster is down"));
}

static void lasting_refusals_and_answers(void **state)
{
    (void)state;
    assert_false(refused(REDIS_REPLY_ERROR, "BUSYGROUP Consumer Group name already exists"));
    assert_false(refused(REDIS_REPLY_ERROR, "BUSYKEY Target key name already exists."));
    assert_false(refused(REDIS_REPLY_ERROR, "WRONGTYPE Operation against a key holding the wrong "
                                            "kind of value"));
    assert_false(refused(REDIS_REPLY_ERROR, "ERR unknown command"));
    assert_false(refused(REDIS_REPLY_ERROR, "NOSCRIPT No matching script."));
    assert_false(refused(REDIS_REPLY_STATUS, "OOM"));
    assert_false(rp_reply_refused_for_now(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(passing_refusals),
        cmocka_unit_test(lasting_refusals_and_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
