// Names the SQL editor for screen readers: CodeMirror replaces the labelled <textarea id="sql-editor"> with
// its own unlabelled input, so that input takes the label's words (CodeMirror's screenReaderLabel option).
window.addEventListener("load", () => {
    const label = document.querySelector('label[for="sql-editor"]');
    const editor = document.querySelector(".CodeMirror");
    if (label && editor && editor.CodeMirror) {
        editor.CodeMirror.setOption("screenReaderLabel", label.textContent.trim());
    }
});
