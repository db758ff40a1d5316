package main

// #cgo pkg-config: x11
// #include <stdlib.h>
// #include <X11/Xlib.h>
//
// // close_window sends the ClientMessage a window manager sends when the user clicks a
// // window's close button; it returns 0, or 1 when the display cannot be opened.
// static int close_window(Window w) {
// 	Display *d = XOpenDisplay(NULL);
// 	if (d == NULL) return 1;
// 	XEvent ev = {0};
// 	ev.xclient.type = ClientMessage;
// 	ev.xclient.window = w;
// 	ev.xclient.message_type = XInternAtom(d, "WM_PROTOCOLS", False);
// 	ev.xclient.format = 32;
// 	ev.xclient.data.l[0] = XInternAtom(d, "WM_DELETE_WINDOW", False);
// 	ev.xclient.data.l[1] = CurrentTime;
// 	XSendEvent(d, w, False, NoEventMask, &ev);
// 	XSync(d, False);
// 	XCloseDisplay(d);
// 	return 0;
// }
import "C"

import (
	"errors"
	"os"
)

// closeWindow asks the X window id to close, as a window manager's close button does.
func closeWindow(id uint32) error {
	if C.close_window(C.Window(id)) != 0 {
		return errors.New("cannot open the X display " + os.Getenv("DISPLAY"))
	}
	return nil
}
