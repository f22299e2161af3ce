/* The ARN of a resource that has tags (TagResource, UntagResource, ListTagsForResource):
 *   arn:aws:mobiletargeting:<region>:<account>:apps/<app>
 *   arn:aws:mobiletargeting:<region>:<account>:apps/<app>/campaigns/<id>
 *   arn:aws:mobiletargeting:<region>:<account>:apps/<app>/segments/<id>
 *   arn:aws:mobiletargeting:<region>:<account>:templates/<name>/<EMAIL|SMS|PUSH>
 * as Repoint writes them in each resource's Arn. */
#ifndef RP_RESOURCE_ARN_H
#define RP_RESOURCE_ARN_H

#include "template_store.h"

enum rp_arn_kind { RP_ARN_APP, RP_ARN_CAMPAIGN, RP_ARN_SEGMENT, RP_ARN_TEMPLATE };

struct rp_resource_arn {
    enum rp_arn_kind kind;
    char app[65];                          /* every kind but a template */
    char id[65];                           /* a campaign's or segment's */
    char name[RP_TEMPLATE_NAME_MAX + 1];   /* a template's */
    const char *type;                      /* a template's: "EMAIL", "SMS" or "PUSH" */
};

/* Parses arn for this region and account. 0 with out filled; RP_EINVAL when arn is not the
 * ARN of a resource that has tags; RP_ENOTFOUND when it is one that cannot be here (another
 * region or account, a template type or name that no template can have). */
int rp_resource_arn_parse(const char *arn, const char *region, const char *account,
                          struct rp_resource_arn *out);

#endif
