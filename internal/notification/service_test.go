package notification_test

import (
	"testing"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestRoutesFollowTheConfiguredBase: a notification names the app's page;
// where the app keeps its pages is configuration.
func TestRoutesFollowTheConfiguredBase(t *testing.T) {
	for base, want := range map[string]string{"": "/dashboard/my-tasks", "/app": "/app/my-tasks", "/": "/my-tasks", "/app/": "/app/my-tasks"} {
		e := apptest.New(t, func(c *app.Config) { c.RouteBase = base })
		u := e.User(t, auth.RoleBuyer)
		if err := e.Notifications.Send(t.Context(), notification.Notification{UserID: u.UserID, Message: "m",
			Type: notification.TaskRefunded, Page: notification.MyTasks}); err != nil {
			t.Fatal(err)
		}
		if err := e.Notifications.Send(t.Context(), notification.Notification{UserID: u.UserID, Message: "untyped"}); err != nil {
			t.Fatal(err)
		}
		got, err := e.Notifications.List(t.Context(), u, page.Request{Number: 1, Limit: 10})
		if err != nil || got.Total != 2 {
			t.Fatalf("List() = %+v, %v", got, err)
		}
		byMessage := map[string]notification.Notification{}
		for _, n := range got.Items {
			byMessage[n.Message] = n
		}
		if n := byMessage["m"]; n.ActionRoute != want || n.Type != notification.TaskRefunded {
			t.Errorf("base %q: %+v, want route %s", base, n, want)
		}
		if n := byMessage["untyped"]; n.Type != notification.Other || n.ActionRoute != "" {
			t.Errorf("an untyped notification = %+v", n)
		}
	}
}
