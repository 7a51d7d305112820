/* examples/worker_pool.c — a worker pool sharing a document tree (the
 * guide's section 9, "Threads").
 *
 * The main thread builds a document: a dict holding a list of sections,
 * each section an object of our own type that holds a list of paragraph
 * word counts.  It shares the document with one rcy_share, adds one more
 * section afterwards (stored into a shared list, so shared at once), and
 * starts a pool of workers.  Each worker attaches a heap of its own,
 * walks its part of the shared document (taking and dropping references
 * to shared nodes as any reader does), and builds its results as private
 * objects in its own heap.  It then detaches that heap and hands it back
 * with the results, the way a lua_State moves between threads; the main
 * thread attaches each worker's heap, reads the results and frees it.
 *
 * At the end every object is gone: the program checks that the main
 * heap holds as many blocks as before the document was built, and each
 * worker heap none.  tests/examples.cmake runs it (also under
 * ThreadSanitizer) and checks what it prints. */
#include <recycle.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { WORKERS = 4, SECTIONS = 23, PARAGRAPHS = 12 };

/* A section of the document: its number and its paragraphs (a list of
 * word counts).  Its one reference is stored with RCY_STORE, so a section
 * stored into a shared document shares its paragraphs too. */
typedef struct section {
    long number;
    rcy_list *paragraphs;
} section;

static int section_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((section *)self)->paragraphs, visit, arg);
    return 0;
}

static void section_destroy(void *self) {
    rcy_xdecref(((section *)self)->paragraphs);
}

static const rcy_type section_type = {.name = "section",
                                      .size = sizeof(section),
                                      .traverse = section_traverse,
                                      .destroy = section_destroy};

static void *check(void *p) {
    if (!p) {
        fprintf(stderr, "worker_pool: out of memory\n");
        exit(1);
    }
    return p;
}

static section *section_new(rcy_heap *h, long number) {
    section *s = check(rcy_new(h, &section_type));
    s->number = number;
    rcy_list *paragraphs = check(rcy_list_new(h));
    for (long p = 0; p < PARAGRAPHS; p++) {
        rcy_int *words = check(rcy_int_new(h, (number * 7 + p * 3) % 11 + 1));
        rcy_list_append(paragraphs, words);
        rcy_decref(words);
    }
    RCY_STORE(s, s->paragraphs, paragraphs); /* takes our reference */
    return s;
}

/* What a worker gets and gives back. */
typedef struct job {
    pthread_t thread;
    int index;
    rcy_dict *doc;     /* shared; the main thread keeps it alive */
    rcy_heap *heap;    /* the worker's own, detached when it returns */
    rcy_list *results; /* in heap: one [section number, words] per section */
} job;

/* Runs on a worker thread: everything it allocates is private to its own
 * heap; the document is only read. */
static void *worker(void *arg) {
    job *j = arg;
    j->heap = check(rcy_heap_new(NULL));
    rcy_heap_attach(j->heap);
    j->results = check(rcy_list_new(j->heap));
    rcy_list *sections = rcy_dict_get(j->doc, "sections"); /* borrowed */
    for (size_t i = (size_t)j->index; i < rcy_list_len(sections); i += WORKERS) {
        section *s = rcy_list_get(sections, (ptrdiff_t)i);
        rcy_incref(s); /* shared: one atomic add */
        long words = 0;
        for (size_t p = 0; p < rcy_list_len(s->paragraphs); p++) {
            rcy_int *w = rcy_list_get(s->paragraphs, (ptrdiff_t)p);
            rcy_incref(w);
            words += rcy_int_value(w);
            rcy_decref(w); /* never the last reference: the document holds one */
        }
        rcy_list *row = check(rcy_list_new(j->heap)); /* private, this heap */
        rcy_int *n = check(rcy_int_new(j->heap, s->number));
        rcy_int *total = check(rcy_int_new(j->heap, words));
        rcy_list_append(row, n);
        rcy_list_append(row, total);
        rcy_list_append(j->results, row);
        rcy_decref(n);
        rcy_decref(total);
        rcy_decref(row);
        rcy_decref(s);
    }
    rcy_heap_detach(j->heap); /* hand the heap and its results back */
    return NULL;
}

static size_t blocks_in_use(rcy_heap *h) {
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    size_t n = st.large_blocks;
    for (int c = 0; c < RCY_SIZE_CLASSES; c++)
        n += st.classes[c].blocks_used;
    return n;
}

int main(void) {
    rcy_heap *h = check(rcy_heap_new(NULL));
    rcy_heap_attach(h); /* the main thread owns the document's heap */
    size_t before = blocks_in_use(h);

    rcy_dict *doc = check(rcy_dict_new(h));
    rcy_list *sections = check(rcy_list_new(h));
    long expected = 0;
    for (long i = 0; i < SECTIONS - 1; i++) {
        section *s = section_new(h, i + 1);
        rcy_list_append(sections, s);
        rcy_decref(s);
    }
    rcy_dict_set(doc, "sections", sections);
    rcy_decref(sections);
    rcy_share(doc); /* the document and all it reaches, for good */

    /* Stored into a shared list: the appendix is shared by the store. */
    section *appendix = section_new(h, SECTIONS);
    rcy_list_append(sections, appendix);
    printf("document shared: %s; appendix shared by the store: %s\n",
           rcy_is_shared(doc) ? "yes" : "no", rcy_is_shared(appendix) ? "yes" : "no");
    rcy_decref(appendix);
    for (size_t i = 0; i < rcy_list_len(sections); i++) {
        section *s = rcy_list_get(sections, (ptrdiff_t)i);
        for (size_t p = 0; p < rcy_list_len(s->paragraphs); p++)
            expected += rcy_int_value(rcy_list_get(s->paragraphs, (ptrdiff_t)p));
    }

    job jobs[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        jobs[i] = (job){.index = i, .doc = doc};
        if (pthread_create(&jobs[i].thread, NULL, worker, &jobs[i]) != 0)
            return 1;
    }
    long total = 0;
    size_t leaked = 0;
    for (int i = 0; i < WORKERS; i++) {
        job *j = &jobs[i];
        pthread_join(j->thread, NULL);
        rcy_heap_attach(j->heap); /* the worker's heap, now this thread's */
        long words = 0;
        printf("worker %d: sections", i);
        for (size_t r = 0; r < rcy_list_len(j->results); r++) {
            rcy_list *row = rcy_list_get(j->results, (ptrdiff_t)r);
            printf(" %ld", rcy_int_value(rcy_list_get(row, 0)));
            words += rcy_int_value(rcy_list_get(row, 1));
        }
        printf(": %ld words\n", words);
        total += words;
        rcy_decref(j->results);
        leaked += blocks_in_use(j->heap);
        rcy_heap_free(j->heap);
    }
    printf("total words %ld, counted by the main thread %ld\n", total, expected);

    /* The last reference to every shared node is dropped here, on the
     * thread attached to their heap, after the workers are joined: a
     * shared object's destructor runs on its heap's thread for now (the
     * guide's "Not yet").  Once shared objects can die on any thread
     * (issue 18 step 4), a worker may drop the last reference itself. */
    rcy_decref(doc);
    leaked += blocks_in_use(h) - before;
    printf("blocks left behind: %zu\n", leaked);
    rcy_heap_free(h);
    return leaked != 0 || total != expected;
}
