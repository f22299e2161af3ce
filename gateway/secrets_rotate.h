/* `repoint rotate-secrets`: re-seals every stored channel secret with the current key, so the
 * previous key files can be retired. Safe while instances serve: each value is replaced only if
 * it is still the one read (an UpdateChannel in between wins), and every instance that holds the
 * previous keys opens both forms meanwhile. */
#ifndef RP_SECRETS_ROTATE_H
#define RP_SECRETS_ROTATE_H

#include <stdio.h>

#include "secrets.h"

struct rp_rotation_counts {
    long resealed;   /* opened with a previous key and sealed again with the current one */
    long current;    /* already sealed with the current key */
    long unreadable; /* sealed with a key this process does not hold, or damaged */
    long raced;      /* changed by another writer while being re-sealed (already current) */
};

/* Walks every app's channel records through the store (rp_store_configure first). Names each
 * unreadable record on report. Returns 0, or RP_ESTORE when Redis fails midway (counts hold
 * what was done; running it again continues). */
int rp_secrets_rotate(const struct rp_secrets *s, struct rp_rotation_counts *counts,
                      FILE *report);

#endif
