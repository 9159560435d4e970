package live

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// connBufferSize is the size of the read and write buffers a websocket
// keeps for its whole life. net/http hands a hijacked connection over with
// 4 KiB for each; an idle tab needs neither, and at ten thousand tabs they
// were half of the memory a tab cost. Messages larger than the buffer go
// around it (bufio reads and writes them straight to the socket), so a
// small buffer costs a system call now and then, not a copy per byte.
const connBufferSize = 512

// smallBuffers wraps the handshake's ResponseWriter so that the websocket
// library, when it hijacks the connection, gets buffers of connBufferSize
// instead of net/http's. It keeps the connection and its read buffer: a
// tab may park its connection only when nothing is left in the buffer.
type smallBuffers struct {
	http.ResponseWriter
	conn net.Conn
	br   *bufio.Reader
}

func (w *smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent after its handshake (net/http read them
	// ahead) must come first. They are copied into the new buffer itself,
	// where the library looks for them (it resets the reader onto the
	// bare connection), and net/http's buffer is let go.
	br := bufio.NewReaderSize(conn, connBufferSize)
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), max(n, connBufferSize))
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	// net/http's writer is fresh and empty at hijack time; flush it anyway
	// so that nothing written before is lost.
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.conn, w.br = conn, br
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, connBufferSize)), nil
}
