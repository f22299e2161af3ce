/* Channel secrets at rest: AES-256-GCM round trip, binding to app/channel, tamper detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rc.h"
#include "secrets.h"

static struct rp_secrets key_a, key_b;

static int setup(void **state)
{
    unsigned char a[32], b[32];
    for (int i = 0; i < 32; i++) {
        a[i] = (unsigned char)i;
        b[i] = (unsigned char)(255 - i);
    }
    rp_secrets_init_key(&key_a, a);
    rp_secrets_init_key(&key_b, b);
    return 0;
}

static void round_trip(void **state)
{
    const char *plain = "{\"TokenKey\":\"-----BEGIN PRIVATE KEY-----\\nsecret\"}";
    char *sealed = rp_secrets_seal(&key_a, "app1/APNS", plain, strlen(plain));
    assert_null(strstr(sealed, "secret"));
    assert_true(strncmp(sealed, "rp1.", 4) == 0);
    char *out;
    size_t len;
    assert_int_equal(rp_secrets_open(&key_a, "app1/APNS", sealed, &out, &len), 0);
    assert_int_equal(len, strlen(plain));
    assert_string_equal(out, plain);
    free(out);
    /* Fresh nonce every time: sealing twice never gives the same text. */
    char *again = rp_secrets_seal(&key_a, "app1/APNS", plain, strlen(plain));
    assert_string_not_equal(sealed, again);
    free(again);
    free(sealed);
}

static void bound_to_location_and_key(void **state)
{
    char *sealed = rp_secrets_seal(&key_a, "app1/GCM", "x", 1);
    char *out = NULL;
    assert_int_equal(rp_secrets_open(&key_a, "app2/GCM", sealed, &out, NULL), RP_ECRYPTO);
    assert_int_equal(rp_secrets_open(&key_b, "app1/GCM", sealed, &out, NULL), RP_ECRYPTO);
    assert_null(out);
    free(sealed);
}

static void tampering_detected(void **state)
{
    char *sealed = rp_secrets_seal(&key_a, "a/SMS", "hello world", 11);
    size_t n = strlen(sealed);
    char *out = NULL;
    for (size_t i = 13; i < n; i += 3) {
        char saved = sealed[i];
        sealed[i] = saved == 'A' ? 'B' : 'A';
        int rc = rp_secrets_open(&key_a, "a/SMS", sealed, &out, NULL);
        assert_true(rc == RP_ECRYPTO || rc == RP_EINVAL);
        assert_null(out);
        sealed[i] = saved;
    }
    assert_int_equal(rp_secrets_open(&key_a, "a/SMS", "rp1.zz", &out, NULL), RP_EINVAL);
    assert_int_equal(rp_secrets_open(&key_a, "a/SMS", "garbage", &out, NULL), RP_EINVAL);
    free(sealed);
}

static void key_file(void **state)
{
    char path[] = "/tmp/rp-secrets-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    struct rp_err err;
    assert_int_equal(rp_secrets_create_key_file(path, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    struct rp_secrets loaded;
    assert_int_equal(rp_secrets_load(&loaded, path, &err), 0);
    /* Never overwrites an existing key: losing it would orphan every stored credential. */
    assert_int_not_equal(rp_secrets_create_key_file(path, &err), 0);
    FILE *f = fopen(path, "w");
    fputs("abcd\n", f);
    fclose(f);
    assert_int_equal(rp_secrets_load(&loaded, path, &err), RP_EINVAL);
    assert_non_null(strstr(err.msg, "64 hex"));
    unlink(path);
}

/* A rotated-out key named in secrets.previous_key_files opens what it sealed and seals
 * nothing; the current key seals. */
static void previous_keys_open_old_values(void **state)
{
    char old_path[] = "/tmp/rp-secrets-old-XXXXXX", new_path[] = "/tmp/rp-secrets-new-XXXXXX";
    close(mkstemp(old_path));
    close(mkstemp(new_path));
    unlink(old_path);
    unlink(new_path);
    struct rp_err err;
    assert_int_equal(rp_secrets_create_key_file(old_path, &err), 0);
    assert_int_equal(rp_secrets_create_key_file(new_path, &err), 0);
    struct rp_secrets old_only, rotated;
    assert_int_equal(rp_secrets_load(&old_only, old_path, &err), 0);
    char *old_sealed = rp_secrets_seal(&old_only, "app1/ADM", "client-secret", 13);

    assert_int_equal(rp_secrets_load(&rotated, new_path, &err), 0);
    char *out = NULL;
    assert_int_equal(rp_secrets_open(&rotated, "app1/ADM", old_sealed, &out, NULL), RP_ECRYPTO);
    char list[128];
    snprintf(list, sizeof(list), " , %s ,", old_path);
    assert_int_equal(rp_secrets_load_previous(&rotated, list, &err), 0);
    assert_int_equal(rotated.previous_count, 1);
    size_t len = 0;
    assert_int_equal(rp_secrets_open(&rotated, "app1/ADM", old_sealed, &out, &len), 0);
    assert_int_equal(len, 13);
    assert_string_equal(out, "client-secret");
    free(out);
    assert_false(rp_secrets_is_current(&rotated, old_sealed));
    assert_true(rp_secrets_is_current(&old_only, old_sealed));
    char *new_sealed = rp_secrets_seal(&rotated, "app1/ADM", "client-secret", 13);
    assert_true(rp_secrets_is_current(&rotated, new_sealed));
    /* The binding to app and channel holds for previous keys too. */
    assert_int_equal(rp_secrets_open(&rotated, "app2/ADM", old_sealed, &out, NULL), RP_ECRYPTO);

    /* The current key listed again as a previous one is a configuration mistake. */
    struct rp_secrets again;
    assert_int_equal(rp_secrets_load(&again, new_path, &err), 0);
    assert_int_equal(rp_secrets_load_previous(&again, new_path, &err), RP_EINVAL);
    assert_non_null(strstr(err.msg, "current key"));
    assert_int_equal(rp_secrets_load_previous(&again, "/nonexistent/key", &err), RP_EIO);
    assert_string_equal(err.field, "secrets.previous_key_files");
    free(old_sealed);
    free(new_sealed);
    unlink(old_path);
    unlink(new_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(bound_to_location_and_key),
        cmocka_unit_test(tampering_detected),
        cmocka_unit_test(key_file),
        cmocka_unit_test(previous_keys_open_old_values),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
