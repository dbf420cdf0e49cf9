;;; exo-lsp.el --- Eglot setup for exo-lsp (Exo schedule scripts)  -*- lexical-binding: t; -*-

;; Load it from your init file:
;;
;;   (setq exo-lsp-python "~/venvs/exo/bin/python"          ; has exo-lsp and exo-lang==1.0.0
;;         exo-lsp-trusted-directories '("~/src/kernels"))  ; only scripts there are run
;;   (load "/path/to/exo-lsp/editors/emacs/exo-lsp.el")
;;
;; Python files that import exo open in `exo-python-mode', a `python-mode' of their own:
;; Eglot runs one server per major mode, so exo-lsp gets these buffers and your usual
;; Python server (pylsp, pyright, ...) keeps every other `python-mode' buffer.
;; Needs Eglot (built in from Emacs 29; Debian's elpa-eglot or M-x package-install on 28)
;; and, for readable hovers, markdown-mode (Debian's elpa-markdown-mode).

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'python)
(require 'project)
(require 'markdown-mode nil t) ; Eglot renders Markdown hovers only when it is there

(defgroup exo-lsp nil
  "The exo-lsp language server for Exo schedule scripts."
  :group 'eglot
  :prefix "exo-lsp-")

(defcustom exo-lsp-python (or (getenv "EXO_LSP_PYTHON") "python3")
  "Python interpreter that has the exo-lsp and exo-lang==1.0.0 packages."
  :type 'string)

(defcustom exo-lsp-trusted-directories
  (split-string (or (getenv "EXO_LSP_TRUSTED") "") path-separator t)
  "Folders whose schedule scripts exo-lsp may run (they are Python programs).
A project inside one of them is trusted; elsewhere the server attaches but
runs nothing."
  :type '(repeat directory))

(defcustom exo-lsp-simulate-timeout 300
  "Seconds `exo-lsp-compile-and-simulate' waits (a cold build takes a while)."
  :type 'number)

(defcustom exo-lsp-initialization-options nil
  "More initializationOptions for the server, as a plist.
For example (:timeoutSeconds 60)."
  :type 'plist)

;;;###autoload
(define-derived-mode exo-python-mode python-mode "Python[Exo]"
  "Major mode for Exo schedule scripts: `python-mode' with exo-lsp through Eglot.")

(defun exo-lsp-script-p ()
  "Non-nil if the current buffer is a Python file that imports exo."
  (and buffer-file-name
       (string-match-p "\\.py\\'" buffer-file-name)
       (save-excursion
         (goto-char (point-min))
         (re-search-forward "^[ \t]*\\(?:import[ \t]+exo\\_>\\|from[ \t]+exo[ \t.]\\)"
                            (min (point-max) 20000) t))))

;; Scripts that import exo open in exo-python-mode (checked before `auto-mode-alist').
(add-to-list 'magic-mode-alist (cons #'exo-lsp-script-p #'exo-python-mode))

(defun exo-lsp--root ()
  (let ((project (project-current nil)))
    (expand-file-name (if project (project-root project) default-directory))))

(defun exo-lsp-trusted-p (dir)
  "Non-nil if DIR is inside one of `exo-lsp-trusted-directories'."
  (let ((dir (file-name-as-directory (file-truename dir))))
    (cl-some (lambda (trusted)
               (string-prefix-p (file-name-as-directory (file-truename trusted)) dir))
             exo-lsp-trusted-directories)))

(defun exo-lsp-contact (&optional _interactive)
  "How Eglot starts exo-lsp for the current buffer's project."
  (list exo-lsp-python "-m" "exo_lsp" "serve"
        :initializationOptions
        (append (list :trusted (if (exo-lsp-trusted-p (exo-lsp--root)) t :json-false))
                exo-lsp-initialization-options)))

(add-to-list 'eglot-server-programs
             (cons '(exo-python-mode :language-id "python") #'exo-lsp-contact))
;; To use exo-lsp for every python-mode buffer instead (and no other Python server):
;;   (add-to-list 'eglot-server-programs (cons 'python-mode #'exo-lsp-contact))

(add-hook 'exo-python-mode-hook #'eglot-ensure)

(defun exo-lsp-compile-and-simulate (&optional step)
  "Compile the scheduled proc for RV32+RVM and simulate it.
With a prefix argument STEP, the proc after that step (default: the last)."
  (interactive "P")
  (let ((arg (list :uri (if (fboundp 'eglot-path-to-uri)
                             (eglot-path-to-uri (buffer-file-name))
                           (eglot--path-to-uri (buffer-file-name))))))
    (when step (setq arg (append arg (list :step (prefix-numeric-value step)))))
    (let ((answer (jsonrpc-request (eglot--current-server-or-lose) :workspace/executeCommand
                                   (list :command "exo.compileAndSimulate" :arguments (vector arg))
                                   :timeout exo-lsp-simulate-timeout)))
      (when-let ((report (plist-get answer :report)))
        (unless (string-empty-p report)
          (with-current-buffer (get-buffer-create "*exo simulate*")
            (let ((inhibit-read-only t))
              (erase-buffer)
              (insert report))
            (if (fboundp 'gfm-view-mode) (gfm-view-mode) (view-mode))
            (display-buffer (current-buffer)))))
      answer)))

(define-key exo-python-mode-map (kbd "C-c C-e s") #'exo-lsp-compile-and-simulate)

(provide 'exo-lsp)
;;; exo-lsp.el ends here
