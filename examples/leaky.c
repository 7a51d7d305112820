/* examples/leaky.c — a small program with a memory leak, for trying
 * `recycle leaks` on a program you did not write:
 *
 *     recycle run -o leaky.rcy -- ./build/leaky
 *     recycle leaks leaky.rcy
 *
 * It counts the words of a text in a hash table, prints the most frequent
 * ones, and frees the table, but the function that frees it forgets the
 * copy of each word.  `recycle leaks` names the line that allocated them
 * (the malloc in copy_word) with the call stack that led there.  It is
 * plain C with malloc and free: the preload library traces any program,
 * with no rebuild and no recycle API. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *word;
    int count;
    struct entry *next;
} entry;

#define BUCKETS 64
static entry *table[BUCKETS];

static const char text[] = "It was the best of times, it was the worst of times, it was the age of "
                           "wisdom, it was the age of foolishness, it was the epoch of belief, it "
                           "was the epoch of incredulity, it was the season of Light, it was the "
                           "season of Darkness, it was the spring of hope, it was the winter of "
                           "despair, we had everything before us, we had nothing before us.";

static unsigned hash(const char *s) {
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % BUCKETS;
}

static char *copy_word(const char *w, size_t n) {
    char *s = malloc(n + 1); /* the leak: these copies are never freed */
    if (!s)
        exit(1);
    memcpy(s, w, n);
    s[n] = 0;
    return s;
}

static void count_word(const char *w, size_t n) {
    char buf[64];
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)w[i]);
    buf[n] = 0;
    unsigned h = hash(buf);
    for (entry *e = table[h]; e; e = e->next) {
        if (strcmp(e->word, buf) == 0) {
            e->count++;
            return;
        }
    }
    entry *e = malloc(sizeof *e);
    if (!e)
        exit(1);
    e->word = copy_word(buf, n);
    e->count = 1;
    e->next = table[h];
    table[h] = e;
}

static void free_table(void) {
    for (int i = 0; i < BUCKETS; i++) {
        entry *e = table[i];
        while (e) {
            entry *next = e->next;
            free(e); /* BUG: e->word is never freed */
            e = next;
        }
        table[i] = NULL;
    }
}

int main(void) {
    for (const char *p = text; *p;) {
        while (*p && !isalpha((unsigned char)*p))
            p++;
        const char *start = p;
        while (isalpha((unsigned char)*p))
            p++;
        if (p > start)
            count_word(start, (size_t)(p - start));
    }
    int distinct = 0;
    entry *best = NULL;
    for (int i = 0; i < BUCKETS; i++)
        for (entry *e = table[i]; e; e = e->next) {
            distinct++;
            if (!best || e->count > best->count)
                best = e;
        }
    printf("%d distinct words; the most frequent: \"%s\" (%d times)\n", distinct,
           best ? best->word : "", best ? best->count : 0);
    free_table();
    return 0;
}
