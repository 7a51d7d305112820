/* examples/tour.c — a walk through recycle, in the order a Python
 * programmer would meet the ideas (`make demo` builds and runs it).
 *
 * Part 1: objects and reference counts, containers, allocator statistics.
 * Later parts (the cycle collector, weak references, generators,
 * tracemalloc) are added as those pieces land. */
#include <recycle.h>

#include <stdio.h>
#include <string.h>

/* ---- a user type: a plain C struct, the header is hidden before it ---- */

typedef struct node {
    char name[16];
    struct node *child; /* a strong reference, or NULL */
} node;

static int quiet; /* no message per node while a long chain is freed */

static void node_destroy(void *self) {
    node *n = self;
    if (!quiet)
        printf("   (destroy: Node '%s' is freed)\n", n->name);
    RCY_CLEAR(n->child);
}

static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->child, visit, arg);
    return 0;
}

static const rcy_type node_type = {
    .name = "Node",
    .size = sizeof(node),
    .traverse = node_traverse, /* it can hold references: the collector may look inside */
    .destroy = node_destroy,
};

static node *node_new(rcy_heap *h, const char *name) {
    node *n = rcy_new(h, &node_type);
    if (n)
        snprintf(n->name, sizeof n->name, "%s", name);
    return n;
}

static void section(const char *title) {
    printf("\n== %s ==\n\n", title);
}

int main(void) {
    printf("recycle %s — a tour, part 1: objects and reference counts\n", RCY_VERSION_STRING);

    section("1. A heap and an object");
    rcy_heap *heap = rcy_heap_new(NULL);
    if (!heap) {
        fprintf(stderr, "tour: cannot create a heap\n");
        return 1;
    }
    node *root = node_new(heap, "root");
    if (!root) {
        fprintf(stderr, "tour: out of memory\n");
        return 1;
    }
    printf("   root = rcy_new(heap, &node_type)    -> <%s object at %p>\n", rcy_type_of(root)->name,
           (void *)root);
    printf("   header before the object: %zu bytes (refcount, collector bits, type)\n",
           sizeof(rcy_head_));
    printf("   rcy_getrefcount(root) = %zu\n", rcy_getrefcount(root));

    section("2. A second reference: 1 -> 2 -> 1");
    node *alias = root;
    rcy_incref(alias);
    printf("   alias = root; rcy_incref(alias)\n");
    printf("   rcy_getrefcount(root) = %zu\n", rcy_getrefcount(root));
    rcy_decref(alias);
    alias = NULL;
    printf("   rcy_decref(alias)\n");
    printf("   rcy_getrefcount(root) = %zu\n", rcy_getrefcount(root));
    printf("\n"
           "   Python shows the same story as 2, 3, 2:\n"
           "     >>> root = Node(); sys.getrefcount(root)      # 2\n"
           "     >>> alias = root;  sys.getrefcount(root)      # 3\n"
           "     >>> del alias;     sys.getrefcount(root)      # 2\n"
           "   because passing root to sys.getrefcount() makes one more\n"
           "   reference for the duration of the call.  rcy_getrefcount()\n"
           "   is a C function reading the header: no hidden reference, so\n"
           "   it reports the true count.\n");

    section("3. Containers hold their own references");
    rcy_list *list = rcy_list_new(heap);
    rcy_dict *dict = rcy_dict_new(heap);
    if (!list || !dict || rcy_list_append(list, root) != RCY_OK ||
        rcy_dict_set(dict, "root", root) != RCY_OK) {
        fprintf(stderr, "tour: out of memory\n");
        return 1;
    }
    printf("   rcy_list_append(list, root); rcy_dict_set(dict, \"root\", root)\n");
    printf("   rcy_getrefcount(root) = %zu   (ours + the list's + the dict's)\n",
           rcy_getrefcount(root));
    rcy_decref(list);
    printf("   rcy_decref(list)   -> rcy_getrefcount(root) = %zu\n", rcy_getrefcount(root));
    rcy_decref(dict);
    printf("   rcy_decref(dict)   -> rcy_getrefcount(root) = %zu\n", rcy_getrefcount(root));

    section("4. The last reference frees the object, and what it holds");
    root->child = node_new(heap, "child");
    printf("   root->child = a new Node 'child' (root owns its reference)\n");
    printf("   rcy_decref(root):\n");
    rcy_decref(root);
    root = NULL;
    {
        rcy_auto node *temp = node_new(heap, "scoped");
        printf("   rcy_auto node *temp: dropped when the block ends:\n");
        (void)temp;
    }

    section("5. A long chain is freed without deep recursion");
    node *head = NULL;
    long length = 1000000;
    for (long i = 0; i < length; i++) {
        node *n = rcy_new(heap, &node_type);
        if (!n)
            break;
        n->child = head;
        head = n;
    }
    printf("   a chain of %ld nodes; dropping its head frees them all with a\n"
           "   bounded C stack (deallocations past a fixed depth are deferred\n"
           "   and run by the outermost one, like CPython's trashcan)\n",
           length);
    quiet = 1;
    rcy_xdecref(head);
    quiet = 0;
    printf("   done.\n");

    section("6. Allocator statistics (like sys._debugmallocstats)");
    rcy_int *ints[1000];
    for (int i = 0; i < 1000; i++)
        ints[i] = rcy_int_new(heap, i);
    printf("   with 1000 ints alive:\n\n");
    fflush(stdout);
    rcy_mem_print_stats(heap, stdout);
    for (int i = 0; i < 1000; i++)
        rcy_xdecref(ints[i]);

    rcy_heap_free(heap);
    printf("\nend of part 1.\n");
    return 0;
}
