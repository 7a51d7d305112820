; examples/fib.lisp — a Lisp program for examples/lisp (lisp -f fib.lisp).
; Under `lisp --snapshot OUT -f examples/fib.lisp`, `recycle top OUT`
; names the lines below that allocated what is still alive, as Python's
; tracemalloc names Python lines.
(define (fib n)
  (if (< n 2)
      n
      (+ (fib (- n 1)) (fib (- n 2)))))
(define (fibs k n)
  (if (= n 0)
      '()
      (cons (fib k) ; the kept list: 300 cells
            (fibs k (- n 1)))))
(define kept (fibs 10 300))
(display (fib 15))
