/* Fuzzes the streaming newline-delimited JSON import reader (gateway/import_reader.c) and the
 * row mapping behind it (gateway/import_row.c); the checks are in import_reader_fuzz.h. */
#define IMPORT_FUZZ_FORMAT RP_IMPORT_JSON
#include "import_reader_fuzz.h"
