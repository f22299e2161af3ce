/* Fuzzes the ARN parser of the tags routes (gateway/resource_arn.c): any bytes as a
 * resource-arn. An ARN it accepts must be exactly the one Repoint would write for what it
 * parsed, so no two texts name the same resource and nothing is read past what was given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc.h"
#include "resource_arn.h"

static const char region[] = "us-east-1";
static const char account[] = "000000000000";

static void written_back(const struct rp_resource_arn *a, char *out, size_t size)
{
    static const char *const kinds[] = {"", "campaigns", "segments"};
    int n = snprintf(out, size, "arn:aws:mobiletargeting:%s:%s:", region, account);
    if (a->kind == RP_ARN_TEMPLATE)
        snprintf(out + n, size - (size_t)n, "templates/%s/%s", a->name, a->type);
    else if (a->kind == RP_ARN_APP)
        snprintf(out + n, size - (size_t)n, "apps/%s", a->app);
    else
        snprintf(out + n, size - (size_t)n, "apps/%s/%s/%s", a->app, kinds[a->kind], a->id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *arn = malloc(size + 1);
    memcpy(arn, data, size);
    arn[size] = '\0';
    struct rp_resource_arn a;
    int rc = rp_resource_arn_parse(arn, region, account, &a);
    if (rc != 0 && rc != RP_EINVAL && rc != RP_ENOTFOUND)
        abort();
    if (rc == 0) {
        char again[512];
        written_back(&a, again, sizeof(again));
        if (strcmp(again, arn) != 0)
            abort();
        if (a.kind == RP_ARN_TEMPLATE ? !rp_template_name_valid(a.name)
                                      : !a.app[0] || strchr(a.app, '/') || strchr(a.id, '/'))
            abort();
    }
    free(arn);
    return 0;
}
