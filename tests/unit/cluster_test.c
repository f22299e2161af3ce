/* Slot hashing, key positions, RESP splitting and redirect parsing for the Redis Cluster client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"

static unsigned slot(const char *key)
{
    return rp_cluster_key_slot(key, strlen(key));
}

static void key_slots_match_redis(void **state)
{
    (void)state;
    /* Values from the cluster specification and CLUSTER KEYSLOT. */
    assert_int_equal(slot("123456789"), 12739); /* CRC16-XMODEM check value 0x31C3 */
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("{user1000}.following"), slot("{user1000}.followers"));
    assert_int_equal(slot("{user1000}.following"), slot("user1000"));
    /* Empty tag: the whole key; only the first { and the next } count. */
    assert_int_not_equal(slot("foo{}{bar}"), slot("bar"));
    assert_int_equal(slot("foo{{bar}}zap"), slot("{bar"));
    assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
    /* Repoint's keys: an app's records and its queue shard each stay together. */
    assert_int_equal(slot("rp:{a:0123abcd}:app"), slot("rp:{a:0123abcd}:settings"));
    assert_int_equal(slot("rp:q:{SMS:0}"), slot("rp:retry:{SMS:0}"));
}

static int key_of(int argc, const char *const *argv, char *out)
{
    size_t lens[16];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    const char *key;
    size_t len;
    if (!rp_cluster_command_key(argc, argv, lens, &key, &len))
        return 0;
    memcpy(out, key, len);
    out[len] = '\0';
    return 1;
}

static void command_keys(void **state)
{
    (void)state;
    char k[64];
    const char *get[] = {"GET", "a"};
    assert_true(key_of(2, get, k));
    assert_string_equal(k, "a");
    const char *eval[] = {"EVALSHA", "abc", "2", "k1", "k2", "arg"};
    assert_true(key_of(6, eval, k));
    assert_string_equal(k, "k1");
    const char *eval0[] = {"eval", "return 1", "0"};
    assert_false(key_of(3, eval0, k));
    const char *xrg[] = {"XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "streams", "s1", ">"};
    assert_true(key_of(9, xrg, k));
    assert_string_equal(k, "s1");
    const char *scan[] = {"SCAN", "0", "MATCH", "rp:*"};
    assert_false(key_of(4, scan, k));
    const char *ping[] = {"ping"};
    assert_false(key_of(1, ping, k));
}

static void resp_split(void **state)
{
    (void)state;
    const char cmd[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nbc\r\n";
    const char *argv[4];
    size_t lens[4];
    assert_int_equal(rp_cluster_parse_command(cmd, sizeof(cmd) - 1, 4, argv, lens), 3);
    assert_int_equal(lens[2], 5);
    assert_memory_equal(argv[2], "a\r\nbc", 5);
    assert_int_equal(rp_cluster_parse_command(cmd, sizeof(cmd) - 1, 2, argv, lens), -1);
    assert_int_equal(rp_cluster_parse_command(cmd, sizeof(cmd) - 2, 4, argv, lens), -1);
    assert_int_equal(rp_cluster_parse_command("*1\r\n$9\r\nab\r\n", 13, 4, argv, lens), -1);
    assert_int_equal(rp_cluster_parse_command("", 0, 4, argv, lens), -1);
}

static void redirects(void **state)
{
    (void)state;
    unsigned s;
    char host[64];
    int port;
    assert_int_equal(rp_cluster_parse_redirect("MOVED 3999 127.0.0.1:6381", &s, host, sizeof(host),
                                               &port), 1);
    assert_int_equal(s, 3999);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6381);
    assert_int_equal(rp_cluster_parse_redirect("ASK 1 [::1]:7000", &s, host, sizeof(host), &port),
                     2);
    assert_string_equal(host, "::1");
    assert_int_equal(rp_cluster_parse_redirect("MOVED 12 :7001", &s, host, sizeof(host), &port), 1);
    assert_string_equal(host, "");
    assert_int_equal(rp_cluster_parse_redirect("MOVED 16384 h:1", &s, host, sizeof(host), &port), 0);
    assert_int_equal(rp_cluster_parse_redirect("ERR wrong", &s, host, sizeof(host), &port), 0);
    assert_int_equal(rp_cluster_parse_redirect("MOVED 5 h:0", &s, host, sizeof(host), &port), 0);
    assert_int_equal(rp_cluster_parse_redirect("MOVED x h:1", &s, host, sizeof(host), &port), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_slots_match_redis),
        cmocka_unit_test(command_keys),
        cmocka_unit_test(resp_split),
        cmocka_unit_test(redirects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
