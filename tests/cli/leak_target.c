/* tests/cli/leak_target.c — a program whose blocks have known leak
 * classes at exit, for tests/cli/leaks.sh (`recycle run` + `recycle
 * leaks`).  Each class is allocated by its own function with its own
 * size, so the report names it:
 *   reachable_from_global  1111 B  a global points to it
 *   lost_parent            2222 B  nothing points to it (definitely lost)
 *   lost_child             3333 B  only lost_parent points to it (indirect)
 *   cycle_a / cycle_b      4444 B  two lost blocks pointing at each other
 *   held_by_thread         5555 B  only a blocked thread's stack points to it
 * `leak_target joined` lets the thread end first: its block is then lost.
 * `leak_target exit` and `leak_target _exit` end inside main, whose frame
 * holds held_by_main's block (6666 B): it is reachable.
 * `leak_target heap N` holds about N MiB in 4 KiB blocks, linked from a
 * global, for the scan-time figure. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct node {
    struct node *next;
    char pad[64];
} node;

void *volatile global_keep; /* external and volatile: the stores stay */
static sem_t ready;

__attribute__((noinline)) static void *reachable_from_global(void) {
    return malloc(1111);
}
__attribute__((noinline)) static node *lost_child(void) {
    return calloc(1, 3333);
}
__attribute__((noinline)) static node *lost_parent(void) {
    node *n = calloc(1, 2222);
    n->next = lost_child();
    return n;
}
__attribute__((noinline)) static node *cycle_a(void) {
    return calloc(1, 4444);
}
__attribute__((noinline)) static node *cycle_b(void) {
    return calloc(1, 4444);
}
__attribute__((noinline)) static void *held_by_thread(void) {
    return malloc(5555);
}

/* Allocate the lost blocks and forget them; then wipe the stack below,
 * where their addresses were. */
__attribute__((noinline)) static void make_lost(void) {
    node *p = lost_parent();
    node *a = cycle_a(), *b = cycle_b();
    a->next = b;
    b->next = a;
    __asm__ volatile("" ::"r"(p), "r"(a), "r"(b) : "memory");
}

__attribute__((noinline)) static void wipe_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

static void *thread_main(void *arg) {
    void *volatile mine = held_by_thread();
    sem_post(&ready);
    if (arg) {
        mine = NULL;
        return NULL;
    }
    for (;;)
        pause(); /* blocked until the process exits */
    return (void *)mine;
}

__attribute__((noinline)) static void *held_by_main(void) {
    return malloc(6666);
}

__attribute__((noinline)) static void hold_heap(long mib) {
    node *head = NULL;
    for (long i = 0; i < mib * 256; i++) {
        node *n = malloc(4096);
        memset(n, 0, 4096);
        n->next = head;
        head = n;
    }
    global_keep = head;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "heap") == 0) {
        hold_heap(atol(argv[2]));
        wipe_stack();
        puts("held");
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "exit") == 0 || strcmp(argv[1], "_exit") == 0)) {
        void *volatile mine = held_by_main();
        wipe_stack();
        fflush(stdout);
        if (argv[1][0] == '_')
            _exit(mine != NULL ? 0 : 1);
        exit(mine != NULL ? 0 : 1);
    }
    int joined = argc > 1 && strcmp(argv[1], "joined") == 0;
    global_keep = reachable_from_global();
    make_lost();
    sem_init(&ready, 0, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, thread_main, joined ? (void *)1 : NULL) != 0)
        return 1;
    sem_wait(&ready);
    if (joined)
        pthread_join(th, NULL);
    wipe_stack();
    puts("ready");
    return 0; /* the thread, when not joined, is still blocked in pause() */
}
