#include "resource_arn.h"
#include "rc.h"

#include <string.h>

/* Copies the part of *s up to the next '/' (or the end) into out; advances *s past the '/'.
 * -1 for an empty part or one that does not fit. */
static int take_part(const char **s, char *out, size_t size)
{
    size_t len = strcspn(*s, "/");
    if (len == 0 || len >= size)
        return -1;
    memcpy(out, *s, len);
    out[len] = '\0';
    *s += len;
    if (**s == '/')
        (*s)++;
    return 0;
}

/* True when the parts taken so far end the ARN: nothing after them, and no '/' left behind
 * ("apps/x/" is not an app). */
static int at_end(const char *s, const char *arn)
{
    return *s == '\0' && s > arn && s[-1] != '/';
}

/* The resource part after the account: s. */
static int parse_resource(const char *s, const char *arn, struct rp_resource_arn *out)
{
    char part[RP_TEMPLATE_NAME_MAX + 1];
    if (take_part(&s, part, sizeof(part)))
        return RP_EINVAL;
    if (strcmp(part, "templates") == 0) {
        char type[8];
        if (take_part(&s, out->name, sizeof(out->name)) || take_part(&s, type, sizeof(type)) ||
            !at_end(s, arn))
            return RP_EINVAL;
        out->kind = RP_ARN_TEMPLATE;
        out->type = rp_template_type(type);
        if (!out->type || strcmp(out->type, type) != 0 || !rp_template_name_valid(out->name))
            return RP_ENOTFOUND;
        return 0;
    }
    if (strcmp(part, "apps") != 0 || take_part(&s, out->app, sizeof(out->app)))
        return RP_EINVAL;
    out->kind = RP_ARN_APP;
    if (at_end(s, arn))
        return 0;
    if (take_part(&s, part, sizeof(part)) || take_part(&s, out->id, sizeof(out->id)) ||
        !at_end(s, arn))
        return RP_EINVAL;
    if (strcmp(part, "campaigns") == 0)
        out->kind = RP_ARN_CAMPAIGN;
    else if (strcmp(part, "segments") == 0)
        out->kind = RP_ARN_SEGMENT;
    else
        return RP_EINVAL;
    return 0;
}

/* The field up to the next ':' at *s (its length in *len), *s advanced past the ':'; NULL when
 * there is no ':'. */
static const char *take_field(const char **s, size_t *len)
{
    const char *field = *s, *colon = strchr(field, ':');
    if (!colon)
        return NULL;
    *len = (size_t)(colon - field);
    *s = colon + 1;
    return field;
}

static int same(const char *field, size_t len, const char *want)
{
    return strlen(want) == len && strncmp(field, want, len) == 0;
}

int rp_resource_arn_parse(const char *arn, const char *region, const char *account,
                          struct rp_resource_arn *out)
{
    static const char prefix[] = "arn:aws:mobiletargeting:";
    memset(out, 0, sizeof(*out));
    const char *s = arn;
    if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
        return RP_EINVAL;
    s += sizeof(prefix) - 1;
    size_t region_len = 0, account_len = 0;
    const char *arn_region = take_field(&s, &region_len);
    const char *arn_account = arn_region ? take_field(&s, &account_len) : NULL;
    if (!arn_account)
        return RP_EINVAL;
    int rc = parse_resource(s, arn, out);
    if (rc == RP_EINVAL)
        return rc;
    /* Another region or account holds nothing of this Repoint's. */
    if (!same(arn_region, region_len, region) || !same(arn_account, account_len, account))
        return RP_ENOTFOUND;
    return rc;
}
