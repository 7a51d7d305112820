/* examples/tour.c — the walk-through `make demo` runs: every step of the
 * notes on Python's memory management (reference counting, the cycle
 * collector, a cycle with finalizers, best practices, generators,
 * tracemalloc), done in C with recycle, in the notes' order.
 *
 * tests/demo.cmake runs it and checks the key facts it prints. */
#include <recycle.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rcy_heap *heap;

static void section(const char *title, const char *why) {
    printf("\n%s\n", title);
    for (size_t i = 0; i < strlen(title); i++)
        putchar('-');
    printf("\n%s\n\n", why);
}

static void check(const void *p) {
    if (!p) {
        fprintf(stderr, "tour: out of memory\n");
        exit(1);
    }
}

static const char *size_text(size_t n, char *buf, size_t len) {
    rcy_format_size((int64_t)n, false, buf, len);
    return buf;
}

/* ---- 1. Reference counting ------------------------------------------- */

static void reference_counting(void) {
    section("1. Reference counting",
            "Every object counts the references to it.  When the count drops to\n"
            "zero, the object is freed at once.");
    rcy_list *a = rcy_list_new(heap); /* a = [] */
    check(a);
    printf("  a = rcy_list_new(heap)       rcy_getrefcount(a) = %zu\n", rcy_getrefcount(a));
    rcy_list *b = a; /* b = a */
    rcy_incref(b);
    printf("  b = a; rcy_incref(b)         rcy_getrefcount(a) = %zu\n", rcy_getrefcount(a));
    rcy_decref(b); /* del b */
    b = NULL;
    printf("  rcy_decref(b); b = NULL      rcy_getrefcount(a) = %zu\n", rcy_getrefcount(a));
    printf("\n"
           "  Python printed 2, 3, 2 for the same steps: sys.getrefcount(a) holds\n"
           "  one more reference, to its own argument, while it runs.\n"
           "  rcy_getrefcount() reads the count from the object's %zu-byte header,\n"
           "  so it reports the true count: 1, 2, 1.\n"
           "  After `del b` Python raised NameError for b; in C, b is NULL, and a\n"
           "  decref of an object already freed stops the program with a message\n"
           "  naming its type and address instead of corrupting memory.\n",
           sizeof(rcy_head_));
    rcy_decref(a); /* the last reference: freed here */
}

/* ---- 2. The cycle collector ------------------------------------------ */

static void make_cycles(int n) {
    for (int i = 0; i < n; i++) { /* x = []; y = [x]; x.append(y) */
        rcy_list *x = rcy_list_new(heap), *y = rcy_list_new(heap);
        check(x), check(y);
        rcy_list_append(y, x);
        rcy_list_append(x, y);
        rcy_decref(x);
        rcy_decref(y);
    }
}

static void cycle_collector(void) {
    section("2. The cycle collector",
            "Objects that refer to each other keep each other's count above zero.\n"
            "The collector finds such groups that nothing outside refers to.");
    rcy_gc_enable(heap);
    printf("  rcy_gc_enable(heap)          rcy_gc_isenabled(heap) = %s\n",
           rcy_gc_isenabled(heap) ? "true" : "false");
    rcy_gc_disable(heap);
    printf("  rcy_gc_disable(heap)         rcy_gc_isenabled(heap) = %s\n",
           rcy_gc_isenabled(heap) ? "true" : "false");
    make_cycles(300);
    printf("  (300 pairs of lists that contain each other, then dropped)\n");
    printf("  rcy_gc_collect(heap, -1)     = %zd unreachable objects found and freed\n",
           rcy_gc_collect(heap, -1));
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(heap, &st);
    printf("  rcy_gc_get_stats(heap):\n");
    for (int g = 0; g < RCY_GC_GENERATIONS; g++)
        printf("    generation %d: collections=%zu, collected=%zu, uncollectable=%zu\n", g,
               st.generations[g].collections, st.generations[g].collected,
               st.generations[g].uncollectable);
    printf("  rcy_gc_garbage(heap)         = %zu objects  (Python: gc.garbage == [])\n",
           rcy_list_len(rcy_gc_garbage(heap)));
    rcy_gc_enable(heap);
}

/* ---- 3. A cycle with finalizers -------------------------------------- */

typedef struct my_object {
    const char *name;
    struct my_object *ref;
} my_object;

static int my_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((my_object *)self)->ref, visit, arg);
    return 0;
}
static void my_clear(void *self) {
    RCY_CLEAR(((my_object *)self)->ref);
}
static void my_finalize(void *self) { /* def __del__(self) */
    printf("  Object %s deleted!\n", ((my_object *)self)->name);
}

static const rcy_type my_object_type = {
    .name = "MyObject",
    .size = sizeof(my_object),
    .traverse = my_traverse,
    .clear = my_clear,
    .finalize = my_finalize,
};

static my_object *my_object_new(const char *name) {
    my_object *o = rcy_new(heap, &my_object_type);
    check(o);
    o->name = name;
    printf("  Object %s created!\n", name);
    return o;
}

static void cycle_with_finalizers(void) {
    section("3. A circular reference, with finalizers",
            "Two objects refer to each other; each has a finalizer (__del__).");
    my_object *obj1 = my_object_new("Obj1");
    my_object *obj2 = my_object_new("Obj2");
    rcy_incref(obj2), obj1->ref = obj2; /* obj1.ref = obj2 */
    rcy_incref(obj1), obj2->ref = obj1; /* obj2.ref = obj1 */
    rcy_decref(obj1);                   /* del obj1 */
    rcy_decref(obj2);                   /* del obj2 */
    printf("  rcy_decref(obj1); rcy_decref(obj2)   -> nothing is freed: each\n"
           "  still holds the other\n");
    printf("  rcy_gc_collect(heap, -1):\n");
    ssize_t n = rcy_gc_collect(heap, -1);
    printf("  = %zd\n", n);
    printf("\n  Both finalizers ran before either object was cleared (PEP 442),\n"
           "  then the two objects were freed.\n");
}

/* ---- 4. Best practices, as code -------------------------------------- */

static void announce_freed(void *what) {
    printf("    (%s freed)\n", (const char *)what);
}

static void watch(void *obj, const char *what) {
    rcy_finalize *f = rcy_finalize_new(obj, announce_freed, (void *)what);
    check(f);
    rcy_decref(f); /* the heap keeps it until it runs */
}

typedef struct tree {
    struct tree *child;  /* strong: a parent owns its child           */
    rcy_weakref *parent; /* weak: a child does not keep its parent    */
} tree;

static int tree_traverse(void *self, rcy_visitproc visit, void *arg) {
    tree *t = self;
    RCY_VISIT(t->child, visit, arg);
    RCY_VISIT(t->parent, visit, arg);
    return 0;
}
static void tree_clear(void *self) {
    tree *t = self;
    RCY_CLEAR(t->child);
    RCY_CLEAR(t->parent);
}
static const rcy_type tree_type = {
    .name = "Tree", .size = sizeof(tree), .traverse = tree_traverse, .clear = tree_clear};

static void best_practices(void) {
    section("4. Best practices, as code",
            "Local variables, no cycles, explicit deletion; generators and\n"
            "profiling follow in sections 5 and 6.");

    printf("  Use local variables: an rcy_auto reference is dropped when its\n"
           "  scope ends.\n");
    {
        rcy_auto rcy_list *scratch = rcy_list_new(heap);
        check(scratch);
        watch(scratch, "scratch list");
        printf("    { rcy_auto rcy_list *scratch = rcy_list_new(heap); ...\n");
        printf("    } <- the closing brace:\n");
    }

    printf("\n  Avoid circular references: the child refers to its parent through\n"
           "  a weak reference, so parent and child form no cycle.\n");
    tree *parent = rcy_new(heap, &tree_type);
    check(parent);
    tree *child = rcy_new(heap, &tree_type);
    check(child);
    parent->child = child; /* our reference becomes the parent's */
    child->parent = rcy_weakref_new(parent, NULL, NULL);
    check(child->parent);
    watch(parent, "parent");
    watch(child, "child");
    tree *back = rcy_weakref_get(child->parent);
    printf("    rcy_weakref_get(child->parent) == parent: %s\n", back == parent ? "yes" : "no");
    rcy_xdecref(back);
    printf("    rcy_decref(parent):\n");
    rcy_decref(parent);
    printf("    rcy_gc_collect(heap, -1) = %zd: reference counting freed them all\n",
           rcy_gc_collect(heap, -1));

    printf("\n  Explicitly delete objects: RCY_CLEAR(p) is `del p`: it sets p to NULL\n"
           "  and drops the reference, freeing the object now if it was the last.\n");
    rcy_dict *cache = rcy_dict_new(heap);
    check(cache);
    watch(cache, "cache");
    printf("    RCY_CLEAR(cache):\n");
    RCY_CLEAR(cache);
    printf("    cache == NULL: %s\n", cache == NULL ? "yes" : "no");
}

/* ---- 5. Generators ----------------------------------------------------- */

/* def generate_numbers(n):
 *     for i in range(n):
 *         yield i */
typedef struct numbers {
    int pc; /* where to resume */
    long i, n;
} numbers;

static int numbers_next(rcy_heap *h, void *state, void **item) {
    numbers *st = state;
    RCY_GEN_BEGIN(st->pc);
    for (st->i = 0; st->i < st->n; st->i++)
        RCY_GEN_YIELD(st->pc, item, rcy_int_new(h, st->i));
    RCY_GEN_END(st->pc);
}

static const rcy_gen_spec numbers_spec = {
    .name = "generate_numbers",
    .state_size = sizeof(numbers),
    .next = numbers_next,
};

static rcy_gen *generate_numbers(long n) {
    rcy_gen *g = rcy_gen_new(heap, &numbers_spec);
    check(g);
    ((numbers *)rcy_gen_state(g))->n = n;
    return g;
}

static void generators(void) {
    section("5. Generators for memory efficiency",
            "A generator makes one item at a time: only its state and the\n"
            "current item are alive, however long the sequence.");
    printf("  RCY_FOR_EACH(num, generate_numbers(100000)) { print; if > 10 break }\n  ");
    rcy_gen *gen = generate_numbers(100000);
    const char *sep = "";
    RCY_FOR_EACH(num, gen) {
        printf("%s%ld", sep, rcy_int_value(num));
        sep = " ";
        if (rcy_int_value(num) > 10)
            break;
    }
    printf("\n  stopped after 12 items; the other 99988 were never made\n");
    rcy_decref(gen);

    char a[32], b[32];
    size_t cur, peak;
    rcy_tracemalloc_start(1);
    gen = generate_numbers(100000);
    long sum = 0;
    RCY_FOR_EACH(num, gen)
    sum += rcy_int_value(num);
    rcy_decref(gen);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    printf("\n  all 100000 numbers through the generator (sum %ld):\n"
           "    tracemalloc peak = %s\n",
           sum, size_text(peak, a, sizeof a));

    rcy_tracemalloc_reset_peak();
    rcy_list *list = rcy_list_new(heap);
    check(list);
    for (long i = 0; i < 100000; i++) {
        rcy_int *v = rcy_int_new(heap, i);
        check(v);
        rcy_list_append(list, v);
        rcy_decref(v);
    }
    size_t gen_peak = peak;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    printf("  the same 100000 numbers built as a list:\n"
           "    tracemalloc peak = %s  (%zu times the generator's)\n",
           size_text(peak, b, sizeof b), gen_peak ? peak / gen_peak : 0);
    rcy_decref(list);
    rcy_tracemalloc_stop();
}

/* ---- 6. tracemalloc ---------------------------------------------------- */

static rcy_list *create_list(void) {
    rcy_list *l = rcy_list_new(heap); /* [i for i in range(10000)] */
    check(l);
    for (long i = 0; i < 10000; i++) {
        rcy_int *v = rcy_int_new(heap, i);
        check(v);
        rcy_list_append(l, v);
        rcy_decref(v);
    }
    return l;
}

static void profiling(void) {
    section("6. Profiling memory with tracemalloc",
            "tracemalloc records where every allocation was made; a snapshot\n"
            "groups the live ones by line, in Python's format.");
    rcy_tracemalloc_start(1); /* tracemalloc.start() */
    rcy_list *l = create_list();
    rcy_snapshot *snapshot = rcy_tracemalloc_take_snapshot();
    check(snapshot);
    rcy_stats *top_stats = rcy_snapshot_statistics(snapshot, RCY_KEY_LINENO, false);
    check(top_stats);
    printf("[ Top 10 ]\n");
    for (size_t i = 0; i < top_stats->len && i < 10; i++) {
        char line[1024];
        rcy_statistic_format(&top_stats->items[i], line, sizeof line);
        printf("%s\n", line);
    }
    printf("\n  (Python freed the list create_list() returned at once, since\n"
           "  nothing kept it; the tour keeps it until the snapshot is taken, so\n"
           "  the lines that built it are what the snapshot shows.)\n");
    rcy_stats_free(top_stats);
    rcy_snapshot_free(snapshot);
    rcy_decref(l);
    rcy_tracemalloc_stop();
}

int main(void) {
    printf("recycle %s: Python's memory management, in C.\n"
           "The notes' steps, one section at a time.\n",
           RCY_VERSION_STRING);
    heap = rcy_heap_new(NULL);
    check(heap);
    reference_counting();
    cycle_collector();
    cycle_with_finalizers();
    best_practices();
    generators();
    profiling();
    rcy_heap_free(heap);
    printf("\nEnd of the tour.  Next: docs/guide.md, and `recycle leaks` on\n"
           "examples/leaky to find a leak in a program you did not write.\n");
    return 0;
}
