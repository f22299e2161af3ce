/* Which Redis error replies the store calls passing (rp_reply_refused_for_now): the worker sends
 * those commands again instead of losing what they record. And the store's own command
 * formatting, byte for byte hiredis's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
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

/* Argument lengths across digit-count boundaries, empty and binary arguments, many arguments. */
static void formats_as_hiredis(void **state)
{
    (void)state;
    static char big[100001];
    memset(big, 'x', sizeof(big));
    big[7] = '\0';
    big[8] = '\r';
    static const size_t sizes[] = {0, 1, 9, 10, 99, 100, 999, 1000, 65535, 100001};
    const char *argv[12];
    size_t lens[12];
    for (size_t n = 0; n < sizeof(sizes) / sizeof(sizes[0]); n++) {
        int argc = 0;
        argv[argc] = "XADD", lens[argc++] = 4;
        for (size_t k = 0; k <= n && argc < 12; k++)
            argv[argc] = big, lens[argc++] = sizes[k];
        char *ours = NULL, *theirs = NULL;
        int our_len = rp_store_format_argv(&ours, argc, argv, lens);
        int their_len = redisFormatCommandArgv(&theirs, argc, argv, lens);
        assert_int_equal(our_len, their_len);
        assert_memory_equal(ours, theirs, (size_t)their_len);
        free(ours);
        redisFreeCommand(theirs);
    }
    const char *words[] = {"HSET", "key", "", "value"};
    char *ours = NULL, *theirs = NULL;
    int our_len = rp_store_format_argv(&ours, 4, words, NULL);
    assert_int_equal(our_len, redisFormatCommandArgv(&theirs, 4, words, NULL));
    assert_memory_equal(ours, theirs, (size_t)our_len);
    free(ours);
    redisFreeCommand(theirs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(passing_refusals),
        cmocka_unit_test(lasting_refusals_and_answers),
        cmocka_unit_test(formats_as_hiredis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
