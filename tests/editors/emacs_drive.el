;;; emacs_drive.el --- drives Emacs + Eglot (with editors/emacs/exo-lsp.el) against exo-lsp  -*- lexical-binding: t; -*-

;; Run by tests/editors/test_emacs.py as
;;   emacs --batch -l editors/emacs/exo-lsp.el -l emacs_drive.el
;; Reads the plan from $EXO_E2E_PLAN, writes what Emacs saw to $EXO_E2E_OUT after every
;; step. Positions are 0-based lines and 0-based CHARACTER columns (what Emacs counts).

(require 'json)
(require 'cl-lib)
(require 'flymake)

(defvar drive-plan (let ((json-object-type 'alist) (json-array-type 'list) (json-key-type 'symbol))
                     (json-read-file (getenv "EXO_E2E_PLAN"))))
(defvar drive-results nil)
(defvar drive-steps nil)
(defvar drive-current nil)
(defvar drive-seen-messages nil)
(defvar drive-seen-requests nil)
(defvar drive-buffers nil)

(setq exo-lsp-simulate-timeout 45) ; within the test's time limit

(defun drive-plan (&rest keys)
  (let ((v drive-plan))
    (dolist (k keys v) (setq v (alist-get k v)))))

(defun drive-servers ()
  (cl-remove-duplicates
   (delq nil (mapcar (lambda (b) (and (buffer-live-p (cdr b))
                                      (with-current-buffer (cdr b) (eglot-current-server))))
                     drive-buffers))))

(defun drive-dump-logs ()
  "Eglot's events (with the server's stderr) of every server, into $EXO_E2E_LOGS."
  (let ((dir (getenv "EXO_E2E_LOGS")))
    (dolist (server (drive-servers))
      (let ((name (replace-regexp-in-string "[^A-Za-z0-9]+" "-" (jsonrpc-name server)))
            (events (jsonrpc-events-buffer server)))
        (when (buffer-live-p events)
          (with-current-buffer events
            (let ((coding-system-for-write 'utf-8))
              (write-region nil nil (expand-file-name (concat name "-events.log") dir) nil 'silent))))))))

(defun drive-save ()
  (ignore-errors (drive-dump-logs))
  (let ((json-encoding-pretty-print nil)
        (coding-system-for-write 'utf-8))
    (with-temp-file (getenv "EXO_E2E_OUT")
      (insert (json-encode
               `((steps . ,(vconcat (reverse drive-steps)))
                 (current . ,drive-current)
                 ,@(reverse drive-results)))))))

(defun drive-put (key value)
  (setq drive-results (cons (cons key value) (assq-delete-all key drive-results))))

(defmacro drive-step (name &rest body)
  (declare (indent 1))
  `(let ((t0 (float-time)))
     (push ',name drive-steps)
     (setq drive-current ',name)
     (drive-save)
     (drive-put ',name (condition-case err
                           (progn ,@body)
                         (error `((error . ,(format "%S" err))))))
     (drive-put ',(intern (format "%s_ms" name)) (round (* 1000 (- (float-time) t0))))
     (setq drive-current nil)
     (drive-save)))

(defun drive-wait (seconds what pred)
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or (funcall pred) (error "timed out after %ss waiting for %s" seconds what))))

;; the logs also while a request blocks (timers run while Emacs waits for output)
(run-with-timer 2 2 (lambda () (ignore-errors (drive-dump-logs))))

;; ------------------------------------------------------------------ what the server sends

(cl-defmethod eglot-handle-notification :before
  (_server (_method (eql window/showMessage)) &key type message &allow-other-keys)
  (push `((type . ,type) (message . ,message)) drive-seen-messages))

(cl-defmethod eglot-handle-request :before
  (_server method &rest _params)
  (push (format "%s" method) drive-seen-requests))

;; ------------------------------------------------------------------ helpers

(defun drive-open (path)
  "Visit PATH as a user would (the mode comes from the shipped config) and let Eglot connect."
  (let ((buf (find-file-noselect path)))
    (switch-to-buffer buf)
    (with-current-buffer buf
      ;; the shipped config calls `eglot-ensure', which connects after the next command
      (run-hooks 'post-command-hook)
      (drive-wait 20 (format "Eglot to manage %s" path) (lambda () (eglot-current-server)))
      ;; what redisplay would do: flymake waits for its buffer to be shown (no redisplay in batch)
      (when flymake-mode (flymake-start)))
    buf))

(defun drive-col (pos)
  (save-excursion (goto-char pos) (- pos (line-beginning-position))))

(defun drive-diagnostics (buf)
  (with-current-buffer buf
    (vconcat
     (mapcar (lambda (d)
               (let ((beg (flymake-diagnostic-beg d)) (end (flymake-diagnostic-end d)))
                 `((range . [,(1- (line-number-at-pos beg)) ,(drive-col beg)
                             ,(1- (line-number-at-pos end)) ,(drive-col end)])
                   (type . ,(format "%s" (flymake-diagnostic-type d)))
                   (message . ,(flymake-diagnostic-text d)))))
             (sort (flymake-diagnostics) (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b))))))))

(defun drive-wait-diagnostics (buf n what)
  (with-current-buffer buf
    (drive-wait 40 what (lambda () (>= (length (flymake-diagnostics)) n)))))

(defun drive-goto (line col)
  (goto-char (point-min))
  (forward-line line)
  (forward-char col))

;; ------------------------------------------------------------------ the scenario

(drive-step broken
  (let ((buf (drive-open (drive-plan 'files 'broken))))
    (push (cons 'broken buf) drive-buffers)
    (drive-wait-diagnostics buf 1 "the pattern miss (flymake)")
    `((mode . ,(format "%s" (buffer-local-value 'major-mode buf)))
      (markdown . ,(if (fboundp 'gfm-view-mode) t :json-false))
      (diagnostics . ,(drive-diagnostics buf)))))

(drive-step noop
  (let ((buf (drive-open (drive-plan 'files 'noop))))
    (push (cons 'noop buf) drive-buffers)
    (drive-wait-diagnostics buf 2 "two no-op warnings (flymake)")
    `((diagnostics . ,(drive-diagnostics buf)))))

(drive-step hover
  (let ((buf (drive-open (drive-plan 'files 'conv1d))))
    (push (cons 'conv1d buf) drive-buffers)
    (with-current-buffer buf
      (vconcat
       (mapcar
        (lambda (probe)
          (drive-goto (alist-get 'line probe) (alist-get 'col probe))
          ;; what Eglot's hover does: the request, then its rendering
          (let* ((res (jsonrpc-request (eglot--current-server-or-lose) :textDocument/hover
                                       (eglot--TextDocumentPositionParams)))
                 (contents (plist-get res :contents))
                 (range (plist-get res :range)))
            `((name . ,(alist-get 'name probe))
              (kind . ,(plist-get contents :kind))
              (value . ,(plist-get contents :value))
              (rendered . ,(and contents (substring-no-properties (eglot--hover-info contents range))))
              (range . ,(and range
                             (pcase-let ((`(,beg . ,end) (eglot--range-region range)))
                               (vector (1- (line-number-at-pos beg)) (drive-col beg)
                                       (1- (line-number-at-pos end)) (drive-col end))))))))
        (drive-plan 'hover))))))

(drive-step action
  ;; M-x eglot-code-actions at a statement, the action picked by title; then the re-run
  (let* ((buf (cdr (assq 'noop drive-buffers)))
         (probe (drive-plan 'action))
         (title (alist-get 'title probe)))
    (with-current-buffer buf
      (drive-goto (alist-get 'line probe) (alist-get 'col probe))
      (let ((offered nil))
        ;; what is not validated within the server's time budget is offered on a later request
        (drive-wait 15 (format "the code action %S" title)
                    (lambda ()
                      (setq offered (mapcar (lambda (a) (plist-get a :title))
                                            (eglot-code-actions (point) nil nil nil)))
                      (or (member title offered) (progn (sleep-for 0.2) nil))))
        (let ((tick (buffer-modified-tick))
              (last-nonmenu-event ?a))       ; not a mouse event: Eglot asks with completing-read
          (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) title)))
            (eglot-code-actions (point) nil nil t))
          (drive-wait 15 "the code action's edit" (lambda () (/= tick (buffer-modified-tick))))
          ;; what Eglot's idle timer does (idle timers do not fire in batch)
          (eglot--signal-textDocument/didChange)
          (drive-wait 40 "diagnostics of the re-run"
                      (lambda ()
                        (cl-some (lambda (d) (> (line-number-at-pos (flymake-diagnostic-beg d))
                                                (1+ (alist-get 'replace_all_line probe))))
                                 (flymake-diagnostics))))
          `((text . ,(buffer-substring-no-properties (point-min) (point-max)))
            (diagnostics . ,(drive-diagnostics buf))))))))

(drive-step simulate
  (let ((buf (cdr (assq 'conv1d drive-buffers)))
        (n-messages (length drive-seen-messages)))
    (with-current-buffer buf
      (let* ((answer (exo-lsp-compile-and-simulate))
             (result (plist-get answer :result)))
        (accept-process-output nil 1) ; notifications sent right after the response
        `((error . ,(plist-get answer :error))
          (ok . ,(plist-get result :ok))
          (correct . ,(plist-get result :correct))
          (report . ,(plist-get answer :report))
          (report_buffer . ,(and (get-buffer "*exo simulate*")
                                 (with-current-buffer "*exo simulate*" (buffer-substring-no-properties 1 (min (point-max) 400)))))
          (messages . ,(vconcat (reverse (cl-subseq drive-seen-messages 0 (- (length drive-seen-messages) n-messages)))))
          (requests . ,(vconcat (reverse drive-seen-requests))))))))

(drive-step shutdown
  (let ((t0 (float-time)))
    (dolist (server (drive-servers))
      (eglot-shutdown server nil 5))
    `((seconds . ,(- (float-time) t0)))))

(drive-put 'done t)
(drive-save)
(kill-emacs 0)
